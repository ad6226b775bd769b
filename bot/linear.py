"""Linear models over sparse text features, laid out for answering one line at a time.

scikit-learn scores a sparse row against ``coef_.T``; with ``coef_`` stored row by row (C order), that
transpose is not contiguous and SciPy copies the whole matrix for every call (38 intents x 38,000
n-grams: 3.6 ms a line in the NLU's second opinion, a third of a message's parse). Stored column by
column (Fortran order), the transpose is contiguous: 0.1 ms, the same probabilities.

Its text features are read the same way: scikit-learn's ``TfidfVectorizer.transform`` and
``FeatureUnion.transform`` cost about 3 ms for one line (joblib's ``Parallel`` even for one job, and
sparse matrix checks around every step), forty times counting the line's n-grams. ``TextFeatures``
computes the same columns directly from the fitted vocabularies and weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse


def for_answering(classifier: Any) -> Any:
    """``classifier`` (fitted, with ``coef_``) with its coefficients in the layout its scoring reads."""
    classifier.coef_ = np.asfortranarray(classifier.coef_)
    return classifier



class TextFeatures:
    """A fitted ``FeatureUnion`` of ``TfidfVectorizer``s (or one of them), reading one or a few lines at a
    time: the same matrix its ``transform`` gives (tests/test_nlu_components.py)."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted
        parts = [p for _n, p in fitted.transformer_list] if hasattr(fitted, "transformer_list") else [fitted]
        self._direct = all(_plain(p) for p in parts) and not getattr(fitted, "transformer_weights", None)
        # Anything else (a dropped part, no idf, weights) is read by scikit-learn itself.
        self._parts = [(p.build_analyzer(), p.vocabulary_, p.idf_, p.sublinear_tf) for p in parts] \
            if self._direct else []
        self.width = sum(len(vocabulary) for _a, vocabulary, _i, _s in self._parts)

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        if not self._direct:
            return self.fitted.transform(texts)
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            offset = 0
            for analyze, vocabulary, idf, sublinear in self._parts:
                counts: dict[int, int] = {}
                for term in analyze(text):
                    column = vocabulary.get(term)
                    if column is not None:
                        counts[column] = counts.get(column, 0) + 1
                columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
                values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                if sublinear:
                    values = np.log(values) + 1.0
                values = values * idf[columns]
                norm = np.sqrt(np.dot(values, values))
                if norm > 0:
                    values /= norm
                order = np.argsort(columns)
                indices.extend((columns[order] + offset).tolist())
                data.extend(values[order].tolist())
                offset += len(vocabulary)
            indptr.append(len(indices))
        return sparse.csr_matrix((np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32),
                                  np.asarray(indptr, dtype=np.int32)), shape=(len(texts), self.width))


def _plain(part: Any) -> bool:
    """A TfidfVectorizer whose transform is counts, (sublinear) tf, idf and l2 norm: what TextFeatures does."""
    return type(part).__name__ == "TfidfVectorizer" and getattr(part, "use_idf", False) and part.norm == "l2" \
        and not part.binary and part.dtype in (np.float64, float)

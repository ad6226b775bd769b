"""Linear models over sparse text features, laid out for answering one line at a time.

scikit-learn scores a sparse row against ``coef_.T``; with ``coef_`` stored row by row (C order), that
transpose is not contiguous and SciPy copies the whole matrix for every call (38 intents x 38,000
n-grams: 3.6 ms a line in the NLU's second opinion, a third of a message's parse). Stored column by
column (Fortran order), the transpose is contiguous: 0.1 ms, the same probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def for_answering(classifier: Any) -> Any:
    """``classifier`` (fitted, with ``coef_``) with its coefficients in the layout its scoring reads."""
    classifier.coef_ = np.asfortranarray(classifier.coef_)
    return classifier

"""A team's own book (issue 21): imports, edits and assignments of clients, products and people,
the change log they all write to, and each agent's daily call list. Core: no Rasa, no Sanic."""

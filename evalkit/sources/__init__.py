"""Data sources that need more than one table read as-is (e.g. BSARD: questions joined with a corpus).

A plain JSONL/CSV/Hugging Face table is read by evalkit.loaders; a source here knows one data set's shape and
turns it into Samples. Each module exposes pure row-level functions (tested on rows) and a thin loading shell.
"""

from evalkit.sources.bsard import BsardArticle, join_questions, load_bsard, parse_article_ids

__all__ = ["BsardArticle", "join_questions", "load_bsard", "parse_article_ids"]

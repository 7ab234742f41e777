"""Question answering over news articles with citations back to the exact text."""

"""`make book`: every notebook executed, its pages, and one revision book (HTML and PDF)."""

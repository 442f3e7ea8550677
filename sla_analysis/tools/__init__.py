"""Tools for the developers: the benchmark (``make bench``) and the attempt-cap simulation study
(``make validate-methods``)."""

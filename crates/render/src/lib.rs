//! Pure renderers: reports in, text tables and JSON out.

//! Pure diagnosis: sockets and kernel context in, grouped counts and findings out.

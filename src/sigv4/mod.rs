//! SigV4 request authentication (issue 3).

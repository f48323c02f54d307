//! The IAM policy language: parse, validate, compile, match and evaluate.

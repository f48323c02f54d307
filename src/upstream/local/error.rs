//! The store's errors, and how they become S3 XML error responses.

use http::StatusCode;

/// An error answered to the client as S3's `<Error>` document.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An S3 error with its code, HTTP status, message and optional extra element.
    #[error("{code}: {message}")]
    S3 {
        /// S3's error code, e.g. `NoSuchKey`.
        code: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// A human-readable message.
        message: String,
        /// An extra element such as `("Key", key)` or `("BucketName", name)`.
        extra: Option<(&'static str, String)>,
    },
    /// A file-system failure: answered as `InternalError` (500), logged with detail.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    fn s3(code: &'static str, status: StatusCode, message: impl Into<String>) -> StoreError {
        StoreError::S3 {
            code,
            status,
            message: message.into(),
            extra: None,
        }
    }

    fn with(mut self, tag: &'static str, value: &str) -> StoreError {
        if let StoreError::S3 { extra, .. } = &mut self {
            *extra = Some((tag, value.to_string()));
        }
        self
    }

    pub fn no_such_bucket(bucket: &str) -> StoreError {
        Self::s3(
            "NoSuchBucket",
            StatusCode::NOT_FOUND,
            "The specified bucket does not exist",
        )
        .with("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> StoreError {
        Self::s3(
            "NoSuchKey",
            StatusCode::NOT_FOUND,
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    pub fn no_such_upload(id: &str) -> StoreError {
        Self::s3(
            "NoSuchUpload",
            StatusCode::NOT_FOUND,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", id)
    }

    pub fn bucket_already_owned(bucket: &str) -> StoreError {
        Self::s3(
            "BucketAlreadyOwnedByYou",
            StatusCode::CONFLICT,
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .with("BucketName", bucket)
    }

    pub fn bucket_not_empty(bucket: &str) -> StoreError {
        Self::s3(
            "BucketNotEmpty",
            StatusCode::CONFLICT,
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", bucket)
    }

    pub fn invalid_bucket_name(bucket: &str) -> StoreError {
        Self::s3(
            "InvalidBucketName",
            StatusCode::BAD_REQUEST,
            "The specified bucket is not valid.",
        )
        .with("BucketName", bucket)
    }

    pub fn key_too_long() -> StoreError {
        Self::s3(
            "KeyTooLongError",
            StatusCode::BAD_REQUEST,
            "Your key is too long",
        )
    }

    pub fn invalid_range(size: u64) -> StoreError {
        Self::s3(
            "InvalidRange",
            StatusCode::RANGE_NOT_SATISFIABLE,
            "The requested range is not satisfiable",
        )
        .with("ActualObjectSize", &size.to_string())
    }

    pub fn invalid_part(message: impl Into<String>) -> StoreError {
        Self::s3("InvalidPart", StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_part_order() -> StoreError {
        Self::s3(
            "InvalidPartOrder",
            StatusCode::BAD_REQUEST,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
    }

    pub fn entity_too_small() -> StoreError {
        Self::s3(
            "EntityTooSmall",
            StatusCode::BAD_REQUEST,
            "Your proposed upload is smaller than the minimum allowed object size.",
        )
    }

    pub fn entity_too_large() -> StoreError {
        Self::s3(
            "EntityTooLarge",
            StatusCode::BAD_REQUEST,
            "Your proposed upload exceeds the maximum allowed object size.",
        )
    }

    pub fn malformed_xml() -> StoreError {
        Self::s3(
            "MalformedXML",
            StatusCode::BAD_REQUEST,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> StoreError {
        Self::s3("InvalidArgument", StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> StoreError {
        Self::s3("InvalidRequest", StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_uri() -> StoreError {
        Self::s3(
            "InvalidURI",
            StatusCode::BAD_REQUEST,
            "Couldn't parse the specified URI.",
        )
    }

    pub fn not_implemented(message: impl Into<String>) -> StoreError {
        Self::s3("NotImplemented", StatusCode::NOT_IMPLEMENTED, message)
    }

    pub fn method_not_allowed() -> StoreError {
        Self::s3(
            "MethodNotAllowed",
            StatusCode::METHOD_NOT_ALLOWED,
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn bad_digest() -> StoreError {
        Self::s3(
            "BadDigest",
            StatusCode::BAD_REQUEST,
            "The Content-MD5 you specified did not match what we received.",
        )
    }

    pub fn invalid_digest() -> StoreError {
        Self::s3(
            "InvalidDigest",
            StatusCode::BAD_REQUEST,
            "The Content-MD5 you specified is not valid.",
        )
    }

    pub fn incomplete_body() -> StoreError {
        Self::s3(
            "IncompleteBody",
            StatusCode::BAD_REQUEST,
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        )
    }

    pub fn metadata_too_large() -> StoreError {
        Self::s3(
            "MetadataTooLarge",
            StatusCode::BAD_REQUEST,
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
    }

    pub fn precondition_failed() -> StoreError {
        Self::s3(
            "PreconditionFailed",
            StatusCode::PRECONDITION_FAILED,
            "At least one of the pre-conditions you specified did not hold",
        )
    }

    /// A request body stream that failed (client disconnect, decoding error upstream).
    pub fn body_error(message: impl Into<String>) -> StoreError {
        Self::s3("IncompleteBody", StatusCode::BAD_REQUEST, message)
    }

    /// The HTTP status, S3 code, message and extra element to answer.
    pub fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        String,
        Option<(&'static str, String)>,
    ) {
        match self {
            StoreError::S3 {
                code,
                status,
                message,
                extra,
            } => (*status, code, message.clone(), extra.clone()),
            StoreError::Io(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.".to_string(),
                None,
            ),
        }
    }
}

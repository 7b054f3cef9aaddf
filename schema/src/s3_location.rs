//! A store's place on S3, `s3://bucket/prefix`, checked once for every user of it: the store
//! itself (`--store s3://...`) and the Athena tables declared over it.

use std::fmt;

/// Why a text is no store location on S3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UrlError {
    #[error("{url} is no S3 URL: write s3://BUCKET/PREFIX")]
    NotS3 { url: String },
    #[error("{url}: {reason}; write s3://BUCKET/PREFIX")]
    Bad { url: String, reason: String },
}

/// Where the store lives on S3: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    bucket: String,
    /// Without leading or trailing `/`; empty for a store at the bucket's root.
    prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix][/]`, checking the bucket name against S3's rules for new
    /// buckets (3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a
    /// letter or digit).
    pub fn parse(url: &str) -> Result<S3Location, S3UrlError> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(S3UrlError::NotS3 {
                url: url.to_string(),
            });
        };
        let bad = |reason: String| S3UrlError::Bad {
            url: url.to_string(),
            reason,
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket name after s3://".into()));
        }
        if !(3..=63).contains(&bucket.len()) {
            return Err(bad(format!(
                "bucket name {bucket:?} has {} characters; S3 allows 3 to 63",
                bucket.len()
            )));
        }
        if let Some(c) = bucket
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
        {
            return Err(bad(format!(
                "bucket name {bucket:?} holds {c:?}; S3 allows only lowercase letters, digits, \
                 `.` and `-`"
            )));
        }
        let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
            return Err(bad(format!(
                "bucket name {bucket:?} must start and end with a letter or digit"
            )));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
            return Err(bad(format!(
                "prefix {prefix:?} has an empty path segment (`//`)"
            )));
        }
        if let Some(c) = prefix
            .chars()
            .find(|c| c.is_control() || *c == '"' || *c == '\\')
        {
            return Err(bad(format!(
                "prefix {prefix:?} holds {c:?}, which a table location cannot carry"
            )));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `s3://bucket`, the URL an object store is registered under.
    pub fn bucket_url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// `s3://bucket/prefix/<table>/`: the table's location, as Athena wants it (a trailing `/`).
    pub fn table_url(&self, table: &str) -> String {
        format!("{self}/{table}/")
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_are_not_an_s3_store_are_refused_with_the_reason() {
        for (url, says) in [
            ("/var/lib/hopscope", "is no S3 URL"),
            ("https://bucket.s3.amazonaws.com/x", "is no S3 URL"),
            ("s3a://bucket/x", "is no S3 URL"),
            ("s3://", "no bucket name"),
            ("s3://ab", "3 to 63"),
            ("s3://My-Bucket/x", "holds 'M'"),
            ("s3://bucket_1/x", "holds '_'"),
            ("s3://-bucket/x", "start and end"),
            ("s3://bucket./x", "start and end"),
            ("s3://bucket/a//b", "empty path segment"),
            ("s3://bucket/a\"b", "holds '\"'"),
            ("s3://bucket/a\\b", "holds '\\\\'"),
        ] {
            let err = S3Location::parse(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }
}

//! Which service-map node a span belongs to, with X-Ray's semantics: a segment is its own node
//! (name + origin); an `aws` subsegment is the AWS resource it calls; a `remote` subsegment is the
//! host or database it calls; any other subsegment is work inside its parent's node.

use std::borrow::Cow;

use hopscope_schema::spans::kind;

use super::document::{Aws, SegmentDoc};

/// The node (service, service type) of a span, or `None` when it belongs to its parent's node.
pub fn node_of<'a>(
    doc: &SegmentDoc<'a>,
    name: &Cow<'a, str>,
    span_kind: &str,
) -> Option<(Cow<'a, str>, Option<Cow<'a, str>>)> {
    let resource = doc.aws.as_ref().and_then(aws_resource);
    let with_resource = || match resource {
        Some(r) => Cow::Owned(format!("{name}:{r}")),
        None => name.clone(),
    };
    if span_kind == kind::INFERRED {
        // X-Ray's inferred segment for a call must land on the same node as the call itself.
        let service_type = doc.origin.clone().or_else(|| aws_type(name));
        return Some((with_resource(), service_type));
    }
    if span_kind == kind::SEGMENT {
        return Some((name.clone(), doc.origin.clone()));
    }
    match doc.namespace.as_deref() {
        // A Lambda Invoke call is the edge into the called function, whose own AWS::Lambda
        // segment is its child: both are that function's node.
        Some("aws") if name.eq_ignore_ascii_case("lambda") && resource.is_some() => Some((
            Cow::Owned(resource.unwrap_or_default().to_string()),
            aws_type(name),
        )),
        Some("aws") => Some((with_resource(), aws_type(name))),
        Some("remote") if doc.sql.is_some() => {
            Some((name.clone(), Some(Cow::Borrowed("Database::SQL"))))
        }
        Some("remote") => Some((name.clone(), Some(Cow::Borrowed("remote")))),
        _ if doc.sql.is_some() => Some((name.clone(), Some(Cow::Borrowed("Database::SQL")))),
        _ => None,
    }
}

/// The resource an AWS call addresses: table, bucket, queue, function or topic.
pub fn aws_resource<'n>(aws: &'n Aws<'_>) -> Option<&'n str> {
    let last = |s: &'n str, sep: char| s.rsplit(sep).next().filter(|s| !s.is_empty());
    aws.table_name
        .as_deref()
        .or(aws.bucket_name.as_deref())
        .or_else(|| {
            aws.queue_url
                .as_deref()
                .and_then(|u| last(u.trim_end_matches('/'), '/'))
        })
        .or(aws.function_name.as_deref())
        .or_else(|| aws.topic_arn.as_deref().and_then(|a| last(a, ':')))
        .or(aws.resource_names.first().map(std::convert::AsRef::as_ref))
}

/// The AWS resource type X-Ray shows for a call to the service `name`.
fn aws_type(name: &str) -> Option<Cow<'static, str>> {
    const TYPES: [(&str, &str); 8] = [
        ("dynamodb", "AWS::DynamoDB::Table"),
        ("s3", "AWS::S3::Bucket"),
        ("sqs", "AWS::SQS::Queue"),
        ("sns", "AWS::SNS"),
        ("lambda", "AWS::Lambda"),
        ("ssm", "AWS::SimpleSystemsManagement"),
        ("stepfunctions", "AWS::StepFunctions::StateMachine"),
        ("sfn", "AWS::StepFunctions::StateMachine"),
    ];
    // SDKs disagree on case (the Go SDK writes `dynamodb`); compared in place, as this runs for
    // every AWS call.
    let known = TYPES.iter().find(|(n, _)| name.eq_ignore_ascii_case(n));
    Some(match known {
        Some((_, t)) => Cow::Borrowed(*t),
        None => Cow::Owned(format!("AWS::{name}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> SegmentDoc<'_> {
        let mut entries = Vec::new();
        super::super::read::read(json, &mut entries).unwrap();
        entries.swap_remove(0).doc
    }

    #[test]
    fn aws_calls_are_nodes_of_their_resource() {
        let d = doc(r#"{"namespace":"aws","aws":{"table_name":"users","operation":"PutItem"}}"#);
        let (service, t) = node_of(&d, &Cow::Borrowed("DynamoDB"), kind::SUBSEGMENT).unwrap();
        assert_eq!(
            (service.as_ref(), t.as_deref()),
            ("DynamoDB:users", Some("AWS::DynamoDB::Table"))
        );
    }

    #[test]
    fn queue_urls_name_the_queue() {
        let d = doc(
            r#"{"namespace":"aws","aws":{"queue_url":"https://sqs.us-east-1.amazonaws.com/123/orders"}}"#,
        );
        assert_eq!(
            node_of(&d, &Cow::Borrowed("SQS"), kind::SUBSEGMENT)
                .unwrap()
                .0,
            "SQS:orders"
        );
    }

    #[test]
    fn lambda_invokes_are_the_called_function() {
        let d = doc(
            r#"{"namespace":"aws","aws":{"function_name":"listDragons","operation":"Invoke"}}"#,
        );
        let (service, t) = node_of(&d, &Cow::Borrowed("Lambda"), kind::SUBSEGMENT).unwrap();
        assert_eq!(
            (service.as_ref(), t.as_deref()),
            ("listDragons", Some("AWS::Lambda"))
        );
    }

    #[test]
    fn local_subsegments_belong_to_their_parent() {
        let d = doc(r###"{"name":"## handler"}"###);
        assert!(node_of(&d, &Cow::Borrowed("## handler"), kind::SUBSEGMENT).is_none());
    }

    #[test]
    fn inferred_segments_share_the_node_of_the_call() {
        let d = doc(
            r#"{"inferred":true,"origin":"AWS::DynamoDB::Table","aws":{"table_name":"users"}}"#,
        );
        assert_eq!(
            node_of(&d, &Cow::Borrowed("DynamoDB"), kind::INFERRED)
                .unwrap()
                .0,
            "DynamoDB:users"
        );
    }
}

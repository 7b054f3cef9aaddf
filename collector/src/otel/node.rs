//! The X-Ray view of an OTel span, as the ADOT collector's awsxrayexporter translates it: trace id
//! form, which service-map node the span belongs to, and the error/fault/throttle flags. Keeping
//! these identical to the X-Ray importer's is what lets OTel and X-Ray spans of one trace join.

use std::borrow::Cow;

/// OTel span kinds; `aws/spans` writes them as `SERVER`, OTLP/JSON as `SPAN_KIND_SERVER` or `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// The kind from its JSON text (a quoted name or the OTLP enum number).
    pub fn from_json(raw: &str) -> SpanKind {
        let name = raw.trim_matches('"');
        match name.strip_prefix("SPAN_KIND_").unwrap_or(name) {
            "INTERNAL" | "1" => SpanKind::Internal,
            "SERVER" | "2" => SpanKind::Server,
            "CLIENT" | "3" => SpanKind::Client,
            "PRODUCER" | "4" => SpanKind::Producer,
            "CONSUMER" | "5" => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// Calls out of the service: X-Ray draws them as the node they call.
    pub fn is_remote(self) -> bool {
        matches!(self, SpanKind::Client | SpanKind::Producer)
    }

    /// Work received by the service: the exporter makes these X-Ray segments.
    pub fn starts_segment(self) -> bool {
        matches!(self, SpanKind::Server | SpanKind::Consumer)
    }
}

/// The W3C trace id `5759e988bd862e3fe1be46a994272793` in X-Ray form
/// `1-5759e988-bd862e3fe1be46a994272793`; anything else (already X-Ray form, malformed) as given.
pub fn xray_trace_id(id: &str) -> Cow<'_, str> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let id = id.to_ascii_lowercase();
        Cow::Owned(format!("1-{}-{}", &id[..8], &id[8..]))
    } else {
        Cow::Borrowed(id)
    }
}

/// Span attributes that name the node a CLIENT or PRODUCER span calls.
pub const REMOTE_SERVICE: &str = "aws.remote.service";
pub const REMOTE_RESOURCE: &str = "aws.remote.resource.identifier";
pub const REMOTE_RESOURCE_TYPE: &str = "aws.remote.resource.type";
const HOSTS: [&str; 3] = ["server.address", "net.peer.name", "http.host"];
const RPC_SERVICE: &str = "rpc.service";
const GEN_AI_SYSTEM: &str = "gen_ai.system";

/// The node (service, service type) a remote call lands on, from the span attribute lookup `attr`;
/// `None` when nothing names it, and the span then stays on its caller's node.
///
/// `aws_sdk` (rpc.system `aws-api`) drops the `AWS::` prefix as the exporter does, so that
/// `AWS::DynamoDB` + `users` is `DynamoDB:users`, the node the X-Ray SDKs' subsegments make.
pub fn remote_node<'a>(
    attr: impl Fn(&str) -> Option<Cow<'a, str>>,
    aws_sdk: bool,
) -> Option<(Cow<'a, str>, Option<Cow<'a, str>>)> {
    if let Some(service) = attr(REMOTE_SERVICE) {
        let service_type = attr(REMOTE_RESOURCE_TYPE)
            .or_else(|| service.starts_with("AWS::").then(|| service.clone()))
            .or(Some(Cow::Borrowed("remote")));
        let name = match service.strip_prefix("AWS::").filter(|_| aws_sdk) {
            Some(stripped) => Cow::Owned(stripped.to_owned()),
            None => service,
        };
        let name = match attr(REMOTE_RESOURCE) {
            Some(resource) => Cow::Owned(format!("{name}:{resource}")),
            None => name,
        };
        return Some((name, service_type));
    }
    let service_type = || attr(REMOTE_RESOURCE_TYPE).or(Some(Cow::Borrowed("remote")));
    if let Some(host) = HOSTS.iter().find_map(|k| attr(k)) {
        return Some((without_port(host), service_type()));
    }
    attr(RPC_SERVICE)
        .or_else(|| attr(GEN_AI_SYSTEM))
        .map(|name| (name, service_type()))
}

/// `host:8080` -> `host`; IPv6 literals (`[::1]:80`) keep their brackets.
fn without_port(host: Cow<'_, str>) -> Cow<'_, str> {
    let end = match host.rfind(':') {
        Some(i)
            if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) && !host[..i].ends_with(':') =>
        {
            i
        }
        _ => return host,
    };
    match host {
        Cow::Borrowed(h) => Cow::Borrowed(&h[..end]),
        Cow::Owned(mut h) => {
            h.truncate(end);
            Cow::Owned(h)
        }
    }
}

/// The X-Ray origin of a service on the `cloud.platform` it runs on, where X-Ray defines one.
pub fn origin_of(cloud_platform: &str) -> Option<&'static str> {
    Some(match cloud_platform {
        "aws_lambda" => "AWS::Lambda::Function",
        "aws_ec2" => "AWS::EC2::Instance",
        "aws_ecs" => "AWS::ECS::Container",
        "aws_eks" => "AWS::EKS::Container",
        "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
        _ => return None,
    })
}

/// X-Ray's three failure flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
}

/// Flags as X-Ray sets them: 4xx is an error (429 also a throttle), 5xx a fault; a span whose
/// status is ERROR without an HTTP status that says whose fault it was is a fault.
pub fn flags(http_status: Option<u16>, status_error: bool) -> Flags {
    let mut f = Flags::default();
    match http_status {
        Some(429) => (f.error, f.throttle) = (true, true),
        Some(400..=499) => f.error = true,
        Some(500..=599) => f.fault = true,
        _ => {}
    }
    if status_error && !f.error && !f.fault {
        f.fault = true;
    }
    f
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(
        "691bbd4b51c1a4c319aa2bf92068c474",
        "1-691bbd4b-51c1a4c319aa2bf92068c474"
    )]
    #[case(
        "691BBD4B51C1A4C319AA2BF92068C474",
        "1-691bbd4b-51c1a4c319aa2bf92068c474"
    )]
    #[case(
        "1-691bbd4b-51c1a4c319aa2bf92068c474",
        "1-691bbd4b-51c1a4c319aa2bf92068c474"
    )]
    #[case("fake-trace", "fake-trace")]
    #[case("691bbd4b51c1a4c319aa2bf92068c47x", "691bbd4b51c1a4c319aa2bf92068c47x")]
    fn trace_ids_take_the_xray_form(#[case] w3c: &str, #[case] xray: &str) {
        assert_eq!(xray_trace_id(w3c), xray);
    }

    #[rstest]
    #[case::aws_sdk_resource(&[("aws.remote.service", "AWS::DynamoDB"), ("aws.remote.resource.identifier", "users"), ("aws.remote.resource.type", "AWS::DynamoDB::Table")], true, Some(("DynamoDB:users", Some("AWS::DynamoDB::Table"))))]
    #[case::aws_sdk_no_resource(&[("aws.remote.service", "AWS::BedrockAgentCore"), ("server.address", "bedrock-agentcore.us-east-1.amazonaws.com")], true, Some(("BedrockAgentCore", Some("AWS::BedrockAgentCore"))))]
    #[case::prefix_kept_outside_the_sdk(&[("aws.remote.service", "AWS::Custom")], false, Some(("AWS::Custom", Some("AWS::Custom"))))]
    #[case::genai_library(&[("aws.remote.service", "amazon_bedrock"), ("aws.remote.resource.identifier", "m:0"), ("aws.remote.resource.type", "GenAI::Model")], false, Some(("amazon_bedrock:m:0", Some("GenAI::Model"))))]
    #[case::http_host(&[("http.host", "api.example.com:8443"), ("rpc.service", "X")], false, Some(("api.example.com", Some("remote"))))]
    #[case::server_address_first(&[("net.peer.name", "b"), ("server.address", "a")], false, Some(("a", Some("remote"))))]
    #[case::ipv6(&[("server.address", "[::1]:80")], false, Some(("[::1]", Some("remote"))))]
    #[case::rpc_service(&[("rpc.service", "Bedrock Runtime"), ("gen_ai.system", "aws.bedrock")], true, Some(("Bedrock Runtime", Some("remote"))))]
    #[case::gen_ai_system(&[("gen_ai.system", "aws.bedrock")], false, Some(("aws.bedrock", Some("remote"))))]
    #[case::nothing(&[("http.method", "GET")], false, None)]
    fn remote_calls_are_nodes_of_what_they_call(
        #[case] attrs: &[(&'static str, &'static str)],
        #[case] aws_sdk: bool,
        #[case] expected: Option<(&str, Option<&str>)>,
    ) {
        let attr = |k: &str| {
            attrs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| Cow::Borrowed(*v))
        };
        let node = remote_node(attr, aws_sdk);
        assert_eq!(
            node.as_ref().map(|(s, t)| (s.as_ref(), t.as_deref())),
            expected
        );
    }

    #[rstest]
    #[case(None, false, Flags::default())]
    #[case(Some(200), false, Flags::default())]
    #[case(None, true, Flags { fault: true, ..Flags::default() })]
    #[case(Some(200), true, Flags { fault: true, ..Flags::default() })]
    #[case(Some(403), true, Flags { error: true, ..Flags::default() })]
    #[case(Some(404), false, Flags { error: true, ..Flags::default() })]
    #[case(Some(429), false, Flags { error: true, throttle: true, ..Flags::default() })]
    #[case(Some(503), false, Flags { fault: true, ..Flags::default() })]
    fn statuses_set_xray_flags(
        #[case] http: Option<u16>,
        #[case] status_error: bool,
        #[case] expected: Flags,
    ) {
        assert_eq!(flags(http, status_error), expected);
    }

    #[rstest]
    #[case("\"SERVER\"", SpanKind::Server)]
    #[case("\"SPAN_KIND_CLIENT\"", SpanKind::Client)]
    #[case("5", SpanKind::Consumer)]
    #[case("\"bogus\"", SpanKind::Unspecified)]
    fn span_kinds_in_every_spelling(#[case] raw: &str, #[case] kind: SpanKind) {
        assert_eq!(SpanKind::from_json(raw), kind);
    }
}

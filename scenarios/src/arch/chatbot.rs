//! `chatbot`: API Gateway -> Lambda -> Lex -> fulfillment Lambda -> ALB -> ECS FastAPI -> RDS,
//! with a Bedrock fallback that turns slow.

use crate::Error;
use crate::lambda::{FunctionSpec, Level, Runtime};
use crate::random::{Micros, SEC, lat};
use crate::scenario::{Cause, Culprit, Scenario};
use crate::sim::{Api, Database, Sim};
use crate::xray::{Aws, Doc, Ecs, Http, HttpRequest, HttpResponse, XraySdk};

const API: Api = Api {
    name: "chatbot-api",
    id: "q8w2e4r6t1",
    stage: "prod",
};
const PROXY: &str = "chatbot-lex-proxy";
const FULFILLMENT: &str = "chatbot-fulfillment";
const SERVICE: &str = "chatbot-fastapi";
const ALB: &str = "internal-chatbot-alb-1786417263.us-east-1.elb.amazonaws.com";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const DB: Database = Database {
    host: "chatbot-db.c4nq7x1ybz0e.us-east-1.rds.amazonaws.com",
    name: "chatbot",
    user: "fastapi",
};

pub(crate) const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: PROXY,
        runtime: Runtime::Python312,
        memory_mb: 256,
        timeout_s: 30,
        init: lat(520.0, 0.2),
        memory_used_mb: (74, 88),
        version: None,
        deploy_storm: None,
    },
    FunctionSpec {
        name: FULFILLMENT,
        runtime: Runtime::Python312,
        memory_mb: 512,
        timeout_s: 30,
        init: lat(610.0, 0.2),
        memory_used_mb: (88, 104),
        version: None,
        deploy_storm: None,
    },
];

pub(crate) fn scenario() -> Scenario {
    let (window, incident) = super::windows((10, 28));
    Scenario {
        name: "chatbot".to_owned(),
        description: "A student chatbot: a Flutter app talks to Lex through API Gateway and a \
                      proxy Lambda; Lex's fulfillment Lambda calls a FastAPI service on ECS \
                      that reads PostgreSQL and falls back to Claude on Bedrock when the data is \
                      not there. Bedrock InvokeModel latency climbs from ~1.4 s to ~9 s."
            .to_owned(),
        architecture: "API Gateway (chatbot-api/prod, POST /chat) -> Lambda chatbot-lex-proxy \
                       -> Lex RecognizeText -> Lambda chatbot-fulfillment -> ALB -> ECS \
                       chatbot-fastapi -> PostgreSQL on RDS (chatbot); fallback -> Bedrock \
                       Runtime InvokeModel (Claude 3 Haiku)"
            .to_owned(),
        window,
        incident,
        culprit: Culprit {
            caller: SERVICE.to_owned(),
            callee: "BedrockRuntime".to_owned(),
            cause: Cause::SlowDependency,
        },
        expected: vec![
            "BedrockRuntime InvokeModel subsegments under chatbot-fastapi go from ~1.4 s to \
             ~9 s inside the incident; about a third of requests take the fallback"
                .to_owned(),
            "the slowness propagates up the chain: chatbot-fastapi, the ALB call, \
             chatbot-fulfillment, Lex, chatbot-lex-proxy and chatbot-api/prod all get slower \
             by the same seconds, while the SQL queries keep their latency"
                .to_owned(),
            "both functions' Duration metrics rise; no timeouts, few errors".to_owned(),
            "background: ~1% of Lex calls answer 400 (BadRequestException) all day".to_owned(),
        ],
        why: super::why(
            Some("chatbot-api/prod"),
            PROXY,
            "slow call beneath",
            "BedrockRuntime InvokeModel",
        ),
        alarms: vec![
            super::alarm(
                "lambda-p99-duration",
                "chatbot-fulfillment",
                "the slow Bedrock calls make the fulfillment function slow",
            ),
            super::alarm(
                "lambda-p99-duration",
                "chatbot-lex-proxy",
                "the proxy waits for Lex, which waits for the fulfillment function",
            ),
        ],
    }
}

pub(crate) fn trace(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let slow = sim.in_incident(start);
    let proxy = sim.lambdas.index(PROXY);
    let fulfillment = sim.lambdas.index(FULFILLMENT);
    let call_id = sim.rnd.id16();
    let call_start = start + sim.rnd.between(900, 3_500);
    let mut status = 200;
    let invoked = sim.invoke(
        proxy,
        call_start,
        Some(call_id.clone()),
        "RequestResponse",
        |sim, inv| {
            let lex_start = inv.start + sim.rnd.latency(lat(1.2, 0.3));
            inv.log(lex_start, Level::Info, "Sending message to Lex");
            let lex_id = sim.rnd.id16();
            if sim.rnd.chance(0.01) {
                let end = lex_start + sim.rnd.latency(lat(40.0, 0.3));
                let mut lex = sim.aws_call("Lex", "RecognizeText", lex_start, end, 400);
                lex.cause = Some(sim.cause(
                    "BadRequestException",
                    "Invalid Bot Configuration: no fulfillment for intent",
                    true,
                ));
                inv.subsegments.push(lex);
                inv.log(end, Level::Error, "Lex rejected the message");
                status = 400;
                return Ok(end + sim.rnd.latency(lat(0.5, 0.3)));
            }
            // Lex recognizes the intent, then calls the fulfillment function.
            let invoke_start = lex_start + sim.rnd.latency(lat(110.0, 0.3));
            let fulfilled = sim.invoke(
                fulfillment,
                invoke_start,
                Some(lex_id.clone()),
                "RequestResponse",
                |sim, inv| Ok(fulfil(sim, inv, slow)),
            )?;
            let lex_end = fulfilled.end + sim.rnd.latency(lat(18.0, 0.3));
            let mut lex = sim.aws_call("Lex", "RecognizeText", lex_start, lex_end, 200);
            lex.id = lex_id;
            if let Some(aws) = lex.aws.as_mut() {
                aws.bot_id = Some("CHATBOTV2");
            }
            inv.subsegments.push(lex);
            inv.log(lex_end, Level::Info, "Lex answered");
            Ok(lex_end + sim.rnd.latency(lat(0.8, 0.3)))
        },
    )?;
    if invoked.failed {
        status = 502;
    }
    let call_end = invoked.end + sim.rnd.between(200, 900);
    let call = sim.lambda_invoke_call(call_id, PROXY, call_start, call_end, 200);
    let end = call_end + sim.rnd.between(300, 2_000);
    let root = sim.api_gateway(&API, "POST", "/chat", start, end, status, vec![call]);
    sim.segments.insert(0, root);
    Ok(())
}

/// The fulfillment handler: one call through the ALB to the FastAPI service.
fn fulfil(sim: &mut Sim, inv: &mut crate::lambda::Invocation, slow: bool) -> Micros {
    let intent = *sim
        .rnd
        .pick(&["GetStudentProfile", "RecommendUniversity", "FallbackIntent"]);
    let t = inv.start + sim.rnd.latency(lat(1.0, 0.3));
    inv.log(t, Level::Info, format!("Fulfilling intent {intent}"));
    let url = format!("http://{ALB}/api/v1/answer");
    let request_start = t;
    let service_start = t + sim.rnd.latency(lat(2.5, 0.3));
    let mut service = service(sim, service_start, &url, slow, intent == "FallbackIntent");
    let service_end = service.end_time.map_or(service_start, |t| t.0);
    let request_end = service_end + sim.rnd.latency(lat(1.8, 0.3));
    let call = sim.remote_call("POST", url, request_start, request_end, 200);
    service.parent_id = Some(call.id.clone());
    sim.segments.push(service);
    inv.subsegments.push(call);
    inv.log(request_end, Level::Info, "Answer ready");
    request_end + sim.rnd.latency(lat(0.6, 0.3))
}

/// The ECS FastAPI segment, without its parent: the caller's HTTP subsegment.
fn service(sim: &mut Sim, start: Micros, url: &str, slow: bool, fallback: bool) -> Doc {
    let mut t = start + sim.rnd.latency(lat(0.8, 0.3));
    let mut subsegments: Vec<Doc> = Vec::new();
    let end = t + sim.rnd.latency(lat(4.0, 0.4));
    subsegments.push(sim.sql_call(
        &DB,
        "SELECT s.id, s.full_name, s.program FROM student_profiles s WHERE s.student_id = %s",
        t,
        end,
    ));
    t = end + sim.rnd.between(100, 500);
    if sim.rnd.chance(0.3) {
        let end = t + sim.rnd.latency(lat(35.0, 0.4));
        subsegments.push(sim.sql_call(
            &DB,
            "SELECT document_id, chunk FROM document_vectors ORDER BY embedding <-> %s LIMIT 5",
            t,
            end,
        ));
        t = end + sim.rnd.between(100, 500);
    }
    if fallback {
        let latency = if slow {
            lat(9_000.0, 0.35)
        } else {
            lat(1_400.0, 0.35)
        };
        // The client's read timeout is 20 s; stay below it rather than model retries.
        let end = t + sim.rnd.latency(latency).min(19 * SEC);
        let mut invoke = sim.aws_call("BedrockRuntime", "InvokeModel", t, end, 200);
        if let Some(aws) = invoke.aws.as_mut() {
            aws.model_id = Some(MODEL);
        }
        subsegments.push(invoke);
        t = end;
    }
    let end = t + sim.rnd.latency(lat(1.5, 0.3));
    let mut doc = Doc::new(sim.rnd.id16(), SERVICE, start, end);
    doc.trace_id = Some(sim.trace_id.clone());
    doc.origin = Some("AWS::ECS::Container");
    doc.http = Some(Http {
        request: Some(HttpRequest {
            method: "POST",
            url: url.to_owned(),
            user_agent: Some("python-requests/2.32.3"),
            client_ip: Some(format!(
                "10.0.{}.{}",
                sim.rnd.range(0, 15),
                sim.rnd.range(2, 254)
            )),
            x_forwarded_for: Some(true),
        }),
        response: Some(HttpResponse {
            status: 200,
            content_length: None,
        }),
    });
    doc.aws = Some(Aws {
        ecs: Some(Ecs {
            container: format!(
                "ip-10-0-{}-{}.ec2.internal",
                sim.rnd.range(0, 15),
                sim.rnd.range(2, 254)
            ),
            container_id: sim.rnd.hex(12),
        }),
        xray: Some(XraySdk {
            sdk: "X-Ray for Python",
            sdk_version: "2.14.0",
        }),
        ..Aws::default()
    });
    doc.subsegments = subsegments;
    doc
}

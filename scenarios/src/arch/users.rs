//! `users`: API Gateway -> Lambda (Node.js) -> DynamoDB PutItem; the table throttles.

use crate::Error;
use crate::lambda::{FunctionSpec, Level, Outcome, Runtime};
use crate::random::{Micros, lat};
use crate::scenario::{Cause, Culprit, Scenario};
use crate::sim::{Api, Sim};

const API: Api = Api {
    name: "users-api",
    id: "k3v9x2m7qa",
    stage: "prod",
};
const FUNCTION: &str = "users-api-create-user";
const TABLE: &str = "users";
/// The SDK v3 standard retry mode: three attempts.
const MAX_ATTEMPTS: u32 = 3;

pub(crate) const FUNCTIONS: &[FunctionSpec] = &[FunctionSpec {
    name: FUNCTION,
    runtime: Runtime::Nodejs20,
    memory_mb: 256,
    timeout_s: 10,
    init: lat(290.0, 0.2),
    memory_used_mb: (82, 96),
    version: None,
    deploy_storm: None,
}];

pub(crate) fn scenario() -> Scenario {
    let (window, incident) = super::windows((10, 30));
    Scenario {
        name: "users".to_owned(),
        description: "A sign-up API stores users in DynamoDB. A marketing campaign pushes \
                      writes past the provisioned capacity of the users table: PutItem calls \
                      are throttled, the SDK retries with backoff, and some requests fail."
            .to_owned(),
        architecture: "API Gateway (users-api/prod, POST /users) -> Lambda users-api-create-user \
                       (Node.js 20) -> DynamoDB PutItem on table users"
            .to_owned(),
        window,
        incident,
        culprit: Culprit {
            caller: FUNCTION.to_owned(),
            callee: format!("DynamoDB:{TABLE}"),
            cause: Cause::Throttle,
        },
        expected: vec![
            "DynamoDB:users subsegments with throttle=true, http 400 and \
             ProvisionedThroughputExceededException only inside the incident"
                .to_owned(),
            "aws.retries of 1-2 on most PutItem calls in the incident; PutItem latency p50 \
             rises from ~6 ms to hundreds of ms"
                .to_owned(),
            "users-api/prod answers 502 when all three attempts are throttled; the function's \
             Errors metric rises and its logs show Invoke Error lines"
                .to_owned(),
            "background: ~3% 400 (validation), ~1.5% 409 (ConditionalCheckFailedException) \
             all day"
                .to_owned(),
        ],
        why: super::why(
            Some("users-api/prod"),
            FUNCTION,
            "failed call beneath",
            "DynamoDB:users PutItem: throttled 400 ProvisionedThroughputExceededException",
        ),
        alarms: vec![
            super::alarm(
                "lambda-dependency-throttles",
                "users-api-create-user",
                "the cause: DynamoDB throttles the PutItem calls",
            ),
            super::alarm(
                "api-gateway-5xx-rate",
                "users-api/prod",
                "the symptom users see: sign-ups answer 502 when every attempt is throttled \
                 (15-60% of requests in each period), at another node than the function, so \
                 the function's cause alarm does not silence it",
            ),
        ],
    }
}

pub(crate) fn trace(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let throttled = sim.in_incident(start);
    let function = sim.lambdas.index(FUNCTION);
    let call_id = sim.rnd.id16();
    let call_start = start + sim.rnd.between(900, 3_500);
    let mut status = 201;
    let invoked = sim.invoke(
        function,
        call_start,
        Some(call_id.clone()),
        "RequestResponse",
        |sim, inv| {
            let mut t = inv.start + sim.rnd.latency(lat(1.5, 0.4));
            if sim.rnd.chance(0.03) {
                inv.log(t, Level::Warn, "Rejected sign-up: email is required");
                status = 400;
                return Ok(t + sim.rnd.latency(lat(0.4, 0.3)));
            }
            let user_id = sim.rnd.uuid();
            inv.log(t, Level::Info, format!("Creating user {user_id}"));
            let call_start = t;
            let mut attempts = 0;
            let mut last_throttled = false;
            while attempts < MAX_ATTEMPTS {
                attempts += 1;
                last_throttled = sim.rnd.chance(if throttled { 0.7 } else { 0.002 });
                t += sim.rnd.latency(if last_throttled {
                    lat(4.0, 0.3)
                } else {
                    lat(6.0, 0.35)
                });
                if !last_throttled {
                    break;
                }
                if attempts < MAX_ATTEMPTS {
                    // Full-jitter exponential backoff from a 100 ms base.
                    t += sim.rnd.between(0, 100_000 << attempts);
                }
            }
            let exists = !last_throttled && sim.rnd.chance(0.015);
            let put_status = if last_throttled || exists { 400 } else { 200 };
            let mut put = sim.aws_call("DynamoDB", "PutItem", call_start, t, put_status);
            if let Some(aws) = put.aws.as_mut() {
                aws.retries = Some(attempts - 1);
                aws.table_name = Some(TABLE);
                aws.resource_names = vec![TABLE.to_owned()];
            }
            if last_throttled {
                put.throttle = true;
                put.cause = Some(sim.cause(
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was \
                     exceeded. Consider increasing your provisioning level with the \
                     UpdateTable API.",
                    true,
                ));
                inv.outcome = Outcome::Raised {
                    kind: "ProvisionedThroughputExceededException".to_owned(),
                    message: "The level of configured provisioned throughput for the table \
                              was exceeded."
                        .to_owned(),
                };
            } else if exists {
                put.cause = Some(sim.cause(
                    "ConditionalCheckFailedException",
                    "The conditional request failed",
                    true,
                ));
                inv.log(t, Level::Warn, format!("User {user_id} already exists"));
                status = 409;
            } else {
                inv.log(t, Level::Info, format!("Stored user {user_id}"));
            }
            inv.subsegments.push(put);
            Ok(t + sim.rnd.latency(lat(0.5, 0.3)))
        },
    )?;
    if invoked.failed {
        status = 502;
    }
    let call_end = invoked.end + sim.rnd.between(200, 900);
    let call = sim.lambda_invoke_call(call_id, FUNCTION, call_start, call_end, 200);
    let end = call_end + sim.rnd.between(300, 2_000);
    let root = sim.api_gateway(&API, "POST", "/users", start, end, status, vec![call]);
    sim.segments.insert(0, root);
    Ok(())
}

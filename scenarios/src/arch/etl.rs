//! `etl`: EventBridge schedule -> Lambda (Python) -> World Bank HTTP API -> S3; the API hangs.

use crate::Error;
use crate::lambda::{FunctionSpec, Level, Outcome, Runtime};
use crate::random::{Micros, SEC, lat};
use crate::scenario::{Cause, Culprit, Scenario};
use crate::sim::Sim;

const FUNCTION: &str = "worldbank-etl";
const HOST: &str = "api.worldbank.org";
const BUCKET: &str = "worldbank-etl-data";
const INDICATORS: &[&str] = &[
    "NY.GDP.MKTP.CD",
    "SP.POP.TOTL",
    "SE.XPD.TOTL.GD.ZS",
    "SH.XPD.CHEX.GD.ZS",
    "EN.ATM.CO2E.PC",
];

pub(crate) const FUNCTIONS: &[FunctionSpec] = &[FunctionSpec {
    name: FUNCTION,
    runtime: Runtime::Python312,
    memory_mb: 512,
    timeout_s: 30,
    init: lat(720.0, 0.2),
    memory_used_mb: (168, 210),
    version: None,
    deploy_storm: None,
}];

pub(crate) fn scenario() -> Scenario {
    let (window, incident) = super::windows((10, 24));
    Scenario {
        name: "etl".to_owned(),
        description: "Scheduled Lambda jobs fetch World Bank indicators over HTTP, convert them \
                      to CSV and store them in S3. The World Bank API starts hanging: calls made \
                      without a client timeout never return and the function times out after 30 s."
            .to_owned(),
        architecture: "EventBridge schedules (one per indicator, staggered) -> Lambda \
                       worldbank-etl (Python 3.12, async) -> HTTPS GET api.worldbank.org \
                       (paged) -> S3 PutObject (worldbank-etl-data)"
            .to_owned(),
        window,
        incident,
        culprit: Culprit {
            caller: FUNCTION.to_owned(),
            callee: HOST.to_owned(),
            cause: Cause::Timeout,
        },
        expected: vec![
            "about half of the invocations in the incident time out: REPORT with Duration \
             30000.00 ms and Status: timeout, then a 'Task timed out after 30.00 seconds' line"
                .to_owned(),
            "those traces end with an api.worldbank.org subsegment in progress (no end_time) \
             and a fault on the function segment (Sandbox.Timedout); no S3 PutObject follows"
                .to_owned(),
            "the calls that do return take seconds instead of ~400 ms; Errors and Duration \
             metrics of worldbank-etl rise, ConcurrentExecutions stays low"
                .to_owned(),
            "background: ~1% 502 Bad Gateway from the API (HTTPError raised) all day".to_owned(),
        ],
        why: super::why(
            None,
            FUNCTION,
            "unanswered call beneath",
            &format!("{HOST} GET /v2/country"),
        ),
        alarms: vec![super::alarm(
            "lambda-timeouts",
            "worldbank-etl",
            "the cause: calls to the hanging API end in 30 s timeouts",
        )],
    }
}

pub(crate) fn trace(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let hanging = sim.in_incident(start);
    let function = sim.lambdas.index(FUNCTION);
    // Scheduled EventBridge rules do not start traces: the AWS::Lambda segment is the root.
    sim.invoke(function, start, None, "Event", |sim, inv| {
        let indicator = *sim.rnd.pick(INDICATORS);
        let pages = sim.rnd.range(1, 3);
        let mut t = inv.start + sim.rnd.latency(lat(1.0, 0.3));
        let mut rows = 0;
        for page in 1..=pages {
            inv.log(
                t,
                Level::Info,
                format!("Fetching {indicator} page {page}/{pages}"),
            );
            let url = format!(
                "https://{HOST}/v2/country/all/indicator/{indicator}?format=json&date=2023&per_page=1000&page={page}"
            );
            let roll = sim.rnd.unit();
            let duration = if hanging && roll < 0.5 {
                // Never answers within the function's life.
                sim.rnd.between(60 * SEC, 120 * SEC)
            } else if hanging && roll < 0.8 {
                sim.rnd.latency(lat(5_500.0, 0.3))
            } else {
                sim.rnd.latency(lat(420.0, 0.35))
            };
            let status = if sim.rnd.chance(0.004) { 502 } else { 200 };
            let call = sim.remote_call("GET", url.clone(), t, t + duration, status);
            if status == 502 {
                let mut call = call;
                call.cause = Some(sim.cause(
                    "HTTPError",
                    &format!("502 Server Error: Bad Gateway for url: {url}"),
                    true,
                ));
                inv.subsegments.push(call);
                inv.outcome = Outcome::Raised {
                    kind: "requests.exceptions.HTTPError".to_owned(),
                    message: format!("502 Server Error: Bad Gateway for url: {url}"),
                };
                return Ok(t + duration + sim.rnd.latency(lat(1.0, 0.3)));
            }
            inv.subsegments.push(call);
            t += duration + sim.rnd.between(200, 900);
            rows += sim.rnd.range(250, 1_000);
        }
        let end = t + sim.rnd.latency(lat(80.0, 0.3));
        inv.subsegments.push(sim.local("## to_csv", t, end));
        t = end;
        let key = format!("raw/{indicator}/{}.csv", &sim.trace_id[2..10]);
        let end = t + sim.rnd.latency(lat(55.0, 0.35));
        let mut put = sim.aws_call("S3", "PutObject", t, end, 200);
        if let Some(aws) = put.aws.as_mut() {
            aws.bucket_name = Some(BUCKET);
            aws.key = Some(key.clone());
        }
        inv.subsegments.push(put);
        inv.log(
            end,
            Level::Info,
            format!("Wrote {rows} rows to s3://{BUCKET}/{key}"),
        );
        Ok(end + sim.rnd.latency(lat(0.8, 0.3)))
    })?;
    Ok(())
}

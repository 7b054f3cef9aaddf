//! `dietician`: S3 upload -> Lambda parser (Python) -> PostgreSQL on RDS; one query turns slow.

use crate::Error;
use crate::lambda::{FunctionSpec, Level, Outcome, Runtime};
use crate::random::{Micros, lat};
use crate::scenario::{Cause, Culprit, Scenario};
use crate::sim::{Database, Sim};

const FUNCTION: &str = "dietician-meal-plan-parser";
const BUCKET: &str = "dietician-patient-uploads";
const DB: Database = Database {
    host: "dietician-db.c9akciq32rlx.us-east-1.rds.amazonaws.com",
    name: "dietician",
    user: "parser_app",
};
/// The query that loses its index in the incident.
const SLOW_QUERY: &str =
    "SELECT id, plan FROM meal_plans WHERE patient_id = %s AND week_start = %s";

pub(crate) const FUNCTIONS: &[FunctionSpec] = &[FunctionSpec {
    name: FUNCTION,
    runtime: Runtime::Python312,
    memory_mb: 1024,
    timeout_s: 60,
    init: lat(640.0, 0.2),
    memory_used_mb: (148, 176),
    version: None,
    deploy_storm: None,
}];

pub(crate) fn scenario() -> Scenario {
    let (window, incident) = super::windows((10, 22));
    Scenario {
        name: "dietician".to_owned(),
        description: "Dietitians upload patients' meal plans as Excel files to S3; a Lambda \
                      parser stores them in PostgreSQL on RDS. A migration dropped the index on \
                      meal_plans (patient_id, week_start): the parser's lookup query turns into a \
                      sequential scan taking seconds."
            .to_owned(),
        architecture: "S3 upload (dietician-patient-uploads) -> Lambda \
                       dietician-meal-plan-parser (Python 3.12, async) -> S3 GetObject -> \
                       PostgreSQL 16 on RDS (dietician)"
            .to_owned(),
        window,
        incident,
        culprit: Culprit {
            caller: FUNCTION.to_owned(),
            callee: format!("{}@{}", DB.name, DB.host),
            cause: Cause::SlowDependency,
        },
        expected: vec![
            format!(
                "SQL subsegments named {}@{} with sanitized_query \"{SLOW_QUERY}\" go from \
                 ~3 ms to ~3 s inside the incident; the other queries stay fast",
                DB.name, DB.host
            ),
            "the parser's Duration (REPORT lines and the Duration metric) rises by the same \
             seconds; no errors or throttles come with it"
                .to_owned(),
            "background: ~1% of uploads fail with InvalidFileException (old .xls files) all day"
                .to_owned(),
        ],
        why: super::why(
            None,
            FUNCTION,
            "slow call beneath",
            &format!("{}@{} {SLOW_QUERY}", DB.name, DB.host),
        ),
        alarms: vec![super::alarm(
            "lambda-p99-duration",
            "dietician-meal-plan-parser",
            "the cause: the slow query makes the parser slow, with no timeout to explain it",
        )],
    }
}

pub(crate) fn trace(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let slow = sim.in_incident(start);
    let function = sim.lambdas.index(FUNCTION);
    // S3 event notifications carry no trace header: the AWS::Lambda segment is the root.
    sim.invoke(function, start, None, "Event", |sim, inv| {
        let patient = sim.rnd.range(10_000, 99_999);
        let key = format!("uploads/{patient}/2026-W47.xlsx");
        let mut t = inv.start + sim.rnd.latency(lat(0.8, 0.3));
        inv.log(t, Level::Info, format!("Processing s3://{BUCKET}/{key}"));
        let end = t + sim.rnd.latency(lat(32.0, 0.4));
        let mut get = sim.aws_call("S3", "GetObject", t, end, 200);
        if let Some(aws) = get.aws.as_mut() {
            aws.bucket_name = Some(BUCKET);
            aws.key = Some(key);
        }
        inv.subsegments.push(get);
        t = end;
        let end = t + sim.rnd.latency(lat(110.0, 0.35));
        inv.subsegments
            .push(sim.local("## parse_workbook", t, end));
        t = end;
        if sim.rnd.chance(0.01) {
            inv.outcome = Outcome::Raised {
                kind: "InvalidFileException".to_owned(),
                message: "openpyxl does not support the old .xls file format, please use \
                          xlrd to read this file, or convert it to the more recent .xlsx file \
                          format."
                    .to_owned(),
            };
            return Ok(t);
        }
        let meals = sim.rnd.range(14, 35);
        for (query, latency) in [
            ("SELECT id FROM patients WHERE external_id = %s", lat(1.8, 0.3)),
            (
                SLOW_QUERY,
                if slow { lat(2_900.0, 0.4) } else { lat(3.0, 0.35) },
            ),
            (
                "INSERT INTO meal_plans (patient_id, week_start, plan) VALUES (%s, %s, %s) \
                 ON CONFLICT (patient_id, week_start) DO UPDATE SET plan = EXCLUDED.plan",
                lat(4.5, 0.3),
            ),
            (
                "INSERT INTO meal_items (meal_plan_id, day, meal, calories) VALUES (%s, %s, %s, %s)",
                lat(7.0, 0.4),
            ),
        ] {
            let end = t + sim.rnd.latency(latency);
            inv.subsegments.push(sim.sql_call(&DB, query, t, end));
            t = end + sim.rnd.between(100, 600);
        }
        inv.log(
            t,
            Level::Info,
            format!("Stored {meals} meals for patient {patient}"),
        );
        Ok(t + sim.rnd.latency(lat(0.6, 0.3)))
    })?;
    Ok(())
}

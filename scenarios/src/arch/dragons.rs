//! `dragons`: API Gateway -> listDragons (SSM, S3), and POST -> Step Functions ->
//! validateDragon -> addDragon -> S3; a storm of deploys makes listDragons start cold.

use crate::Error;
use crate::lambda::{DeployStorm, FunctionSpec, Level, Outcome, Runtime};
use crate::random::{Micros, lat};
use crate::scenario::{Cause, Culprit, Scenario};
use crate::sim::{ACCOUNT, Api, REGION, Sim};
use crate::xray::Doc;

const API: Api = Api {
    name: "dragons-api",
    id: "7n3xq0c2la",
    stage: "prod",
};
const LIST: &str = "listDragons";
const VALIDATE: &str = "validateDragon";
const ADD: &str = "addDragon";
const BUCKET: &str = "dragons-app-bucket";
const STATE_MACHINE: &str = "DragonsStateMachine";

pub(crate) const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: LIST,
        runtime: Runtime::Python312,
        memory_mb: 512,
        timeout_s: 15,
        init: lat(430.0, 0.2),
        memory_used_mb: (92, 110),
        version: Some(7),
        deploy_storm: Some(DeployStorm {
            every_s: (60, 150),
            init: lat(2_300.0, 0.2),
        }),
    },
    FunctionSpec {
        name: VALIDATE,
        runtime: Runtime::Python312,
        memory_mb: 128,
        timeout_s: 10,
        init: lat(280.0, 0.2),
        memory_used_mb: (48, 56),
        version: None,
        deploy_storm: None,
    },
    FunctionSpec {
        name: ADD,
        runtime: Runtime::Python312,
        memory_mb: 256,
        timeout_s: 10,
        init: lat(360.0, 0.2),
        memory_used_mb: (70, 84),
        version: None,
        deploy_storm: None,
    },
];

pub(crate) fn scenario() -> Scenario {
    let (window, incident) = super::windows((10, 25));
    Scenario {
        name: "dragons".to_owned(),
        description: "The dragons API lists dragons from S3 and adds new ones through a Step \
                      Functions workflow. From the incident start a misconfigured pipeline \
                      republishes listDragons every one to two minutes, each version a heavier \
                      build: every publish retires the warm sandboxes, so requests keep landing \
                      on cold starts of ~2.3 s."
            .to_owned(),
        architecture: "API Gateway (dragons-api/prod) GET /dragons -> Lambda listDragons \
                       (Python 3.12; SSM GetParameter x2, S3 GetObject); POST /dragons -> Step \
                       Functions DragonsStateMachine -> Lambda validateDragon -> Lambda addDragon \
                       -> S3 GetObject + PutObject (dragons-app-bucket)"
            .to_owned(),
        window,
        incident,
        culprit: Culprit {
            caller: format!("{}/{}", API.name, API.stage),
            callee: LIST.to_owned(),
            cause: Cause::ColdStart,
        },
        expected: vec![
            "listDragons Initialization subsegments (and INIT_START / Init Duration in its logs) \
             become frequent inside the incident, ~2.3 s each instead of ~0.4 s"
                .to_owned(),
            "new log streams per published version: [8], [9], ... instead of [7]; START lines \
             carry the same version"
                .to_owned(),
            "GET /dragons latency at dragons-api/prod rises with the cold starts; warm \
             requests and the SSM / S3 calls keep their usual latency; no errors from it"
                .to_owned(),
            "background: POST /dragons runs through Step Functions all day; ~5% of executions \
             fail validation; ~2% of GETs answer 404"
                .to_owned(),
        ],
        why: super::why(Some("dragons-api/prod"), LIST, "cold start", "yes"),
        alarms: vec![super::alarm(
            "lambda-cold-start-ratio",
            "listDragons",
            "the cause: the deploy storm makes most invocations cold starts",
        )],
    }
}

pub(crate) fn trace(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    if sim.rnd.chance(0.8) {
        list(sim, start)
    } else {
        add(sim, start)
    }
}

fn list(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let function = sim.lambdas.index(LIST);
    let call_id = sim.rnd.id16();
    let call_start = start + sim.rnd.between(900, 3_500);
    let mut status = 200;
    let invoked = sim.invoke(
        function,
        call_start,
        Some(call_id.clone()),
        "RequestResponse",
        |sim, inv| {
            let mut t = inv.start + sim.rnd.latency(lat(0.7, 0.3));
            for parameter in ["dragon_data_bucket_name", "dragon_data_file_name"] {
                let end = t + sim.rnd.latency(lat(16.0, 0.4));
                let call = sim.aws_call("SSM", "GetParameter", t, end, 200);
                inv.subsegments.push(call);
                inv.log(end, Level::Info, format!("Read parameter {parameter}"));
                t = end + sim.rnd.between(100, 500);
            }
            let end = t + sim.rnd.latency(lat(38.0, 0.45));
            let mut get = sim.aws_call("S3", "GetObject", t, end, 200);
            if let Some(aws) = get.aws.as_mut() {
                aws.bucket_name = Some(BUCKET);
                aws.key = Some("dragons.json".to_owned());
            }
            inv.subsegments.push(get);
            t = end + sim.rnd.latency(lat(3.0, 0.4));
            if sim.rnd.chance(0.02) {
                status = 404;
                inv.log(t, Level::Warn, "No dragon named 'Smaug' found");
            } else {
                let count = sim.rnd.range(1, 40);
                inv.log(t, Level::Info, format!("Returning {count} dragons"));
            }
            Ok(t)
        },
    )?;
    if invoked.failed {
        status = 502;
    }
    let call_end = invoked.end + sim.rnd.between(200, 900);
    let call = sim.lambda_invoke_call(call_id, LIST, call_start, call_end, 200);
    let end = call_end + sim.rnd.between(300, 2_000);
    let root = sim.api_gateway(&API, "GET", "/dragons", start, end, status, vec![call]);
    sim.segments.insert(0, root);
    Ok(())
}

fn add(sim: &mut Sim, start: Micros) -> Result<(), Error> {
    let state_machine_arn =
        format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}");
    // API Gateway's AWS integration starts the execution and answers without waiting for it.
    let call_start = start + sim.rnd.between(900, 3_000);
    let call_end = call_start + sim.rnd.latency(lat(24.0, 0.3));
    let mut start_execution =
        sim.aws_call("StepFunctions", "StartExecution", call_start, call_end, 200);
    if let Some(aws) = start_execution.aws.as_mut() {
        aws.state_machine_arn = Some(state_machine_arn.clone());
    }
    let execution_parent = start_execution.id.clone();
    let end = call_end + sim.rnd.between(300, 1_500);
    let root = sim.api_gateway(
        &API,
        "POST",
        "/dragons",
        start,
        end,
        200,
        vec![start_execution],
    );
    sim.segments.insert(0, root);

    let execution_start = call_start + sim.rnd.latency(lat(12.0, 0.3));
    let mut t = execution_start + sim.rnd.latency(lat(8.0, 0.3));
    let mut states = Vec::new();
    let mut failed = false;
    for (function_name, delay) in [(VALIDATE, lat(0.8, 0.3)), (ADD, lat(1.2, 0.3))] {
        let function = sim.lambdas.index(function_name);
        let state_start = t;
        let call_id = sim.rnd.id16();
        let invoke_start = t + sim.rnd.latency(lat(6.0, 0.3));
        let invoked = sim.invoke(
            function,
            invoke_start,
            Some(call_id.clone()),
            "RequestResponse",
            |sim, inv| {
                Ok(if function_name == VALIDATE {
                    validate(sim, inv)
                } else {
                    store(sim, inv, delay)
                })
            },
        )?;
        let call_end = invoked.end + sim.rnd.between(300, 1_200);
        let call = sim.lambda_invoke_call(call_id, function_name, invoke_start, call_end, 200);
        t = call_end + sim.rnd.latency(lat(4.0, 0.3));
        let mut state = Doc::new(sim.rnd.id16(), function_name, state_start, t);
        state.error = invoked.failed;
        state.subsegments.push(call);
        states.push(state);
        if invoked.failed {
            failed = true;
            break;
        }
    }
    let end = t + sim.rnd.latency(lat(6.0, 0.3));
    let mut execution = Doc::new(sim.rnd.id16(), STATE_MACHINE, execution_start, end);
    execution.trace_id = Some(sim.trace_id.clone());
    execution.parent_id = Some(execution_parent);
    execution.origin = Some("AWS::StepFunctions::StateMachine");
    execution.resource_arn = Some(state_machine_arn);
    execution.error = failed;
    execution.subsegments = states;
    sim.segments.insert(1, execution);
    Ok(())
}

fn validate(sim: &mut Sim, inv: &mut crate::lambda::Invocation) -> Micros {
    let t = inv.start + sim.rnd.latency(lat(2.5, 0.4));
    if sim.rnd.chance(0.05) {
        inv.outcome = Outcome::Raised {
            kind: "DragonValidationException".to_owned(),
            message: "Duplicate dragon reported".to_owned(),
        };
    } else {
        inv.log(t, Level::Info, "Dragon is valid");
    }
    t
}

fn store(
    sim: &mut Sim,
    inv: &mut crate::lambda::Invocation,
    delay: crate::random::Latency,
) -> Micros {
    let mut t = inv.start + sim.rnd.latency(delay);
    for operation in ["GetObject", "PutObject"] {
        let end = t + sim.rnd.latency(lat(42.0, 0.4));
        let mut call = sim.aws_call("S3", operation, t, end, 200);
        if let Some(aws) = call.aws.as_mut() {
            aws.bucket_name = Some(BUCKET);
            aws.key = Some("dragons.json".to_owned());
        }
        inv.subsegments.push(call);
        t = end + sim.rnd.latency(lat(1.5, 0.3));
    }
    inv.log(t, Level::Info, "Dragon added to dragons.json");
    t
}

//! The state of one generation run and the builders of the segments every architecture uses.

use crate::lambda::Lambdas;
use crate::random::{DYNAMODB_ID, Micros, Random, S3_ID};
use crate::scenario::TimeRange;
use crate::xray::{
    ApiGateway, ApiGatewayAnnotations, Aws, Cause, Doc, Exception, Http, HttpRequest, HttpResponse,
    Sql,
};

pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";

/// Everything a trace builder needs: randomness, the incident, the Lambda functions, and the
/// documents of the trace being built.
pub(crate) struct Sim {
    pub rnd: Random,
    pub incident: TimeRange,
    pub lambdas: Lambdas,
    pub trace_id: String,
    pub segments: Vec<Doc>,
}

/// A REST API stage.
pub(crate) struct Api {
    pub name: &'static str,
    pub id: &'static str,
    pub stage: &'static str,
}

/// A PostgreSQL database on RDS, as the X-Ray SDK's psycopg patch describes it.
pub(crate) struct Database {
    pub host: &'static str,
    pub name: &'static str,
    pub user: &'static str,
}

impl Sim {
    pub(crate) fn in_incident(&self, t: Micros) -> bool {
        self.incident.contains_us(t)
    }

    /// An AWS SDK call subsegment (`namespace: aws`) answered with `status`.
    pub(crate) fn aws_call(
        &mut self,
        service: &'static str,
        operation: &'static str,
        start: Micros,
        end: Micros,
        status: u16,
    ) -> Doc {
        let request_id = match service {
            "DynamoDB" => self.rnd.token(DYNAMODB_ID, 52),
            "S3" => self.rnd.token(S3_ID, 16),
            _ => self.rnd.uuid(),
        };
        let mut doc = Doc::new(self.rnd.id16(), service, start, end);
        doc.namespace = Some("aws");
        doc.http = Some(Http::response(status, Some(self.rnd.range(2, 900))));
        doc.aws = Some(Aws {
            operation: Some(operation),
            region: Some(REGION),
            request_id: Some(request_id),
            retries: Some(0),
            ..Aws::default()
        });
        doc.flag_status(status);
        doc
    }

    /// An outgoing HTTP call subsegment (`namespace: remote`), named by its host.
    pub(crate) fn remote_call(
        &mut self,
        method: &'static str,
        url: String,
        start: Micros,
        end: Micros,
        status: u16,
    ) -> Doc {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':', '?']).next())
            .unwrap_or(&url)
            .to_owned();
        let mut doc = Doc::new(self.rnd.id16(), host, start, end);
        doc.namespace = Some("remote");
        doc.http = Some(Http {
            request: Some(HttpRequest {
                method,
                url,
                ..HttpRequest::default()
            }),
            response: Some(HttpResponse {
                status,
                content_length: Some(self.rnd.range(200, 60_000)),
            }),
        });
        doc.flag_status(status);
        doc
    }

    /// A SQL query subsegment, named `<database>@<host>`.
    pub(crate) fn sql_call(
        &mut self,
        db: &Database,
        query: &'static str,
        start: Micros,
        end: Micros,
    ) -> Doc {
        let mut doc = Doc::new(
            self.rnd.id16(),
            format!("{}@{}", db.name, db.host),
            start,
            end,
        );
        doc.namespace = Some("remote");
        doc.sql = Some(Sql {
            url: format!("postgresql://{}:5432/{}", db.host, db.name),
            database_type: "PostgreSQL",
            database_version: "16.4",
            driver_version: "Psycopg 2.9.10",
            user: db.user,
            sanitized_query: query,
        });
        doc
    }

    /// The `Lambda` subsegment of a caller that invokes a function; its id is the parent of the
    /// function's `AWS::Lambda` segment.
    pub(crate) fn lambda_invoke_call(
        &mut self,
        id: String,
        function: &str,
        start: Micros,
        end: Micros,
        status: u16,
    ) -> Doc {
        let mut doc = Doc::new(id, "Lambda", start, end);
        doc.namespace = Some("aws");
        doc.http = Some(Http::response(status, Some(self.rnd.range(40, 4_000))));
        doc.aws = Some(Aws {
            function_name: Some(function.to_owned()),
            operation: Some("Invoke"),
            region: Some(REGION),
            resource_names: vec![function.to_owned()],
            ..Aws::default()
        });
        doc.flag_status(status);
        doc
    }

    /// An API Gateway stage segment, the root of a trace, answered with `status`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn api_gateway(
        &mut self,
        api: &Api,
        method: &'static str,
        path: &str,
        start: Micros,
        end: Micros,
        status: u16,
        subsegments: Vec<Doc>,
    ) -> Doc {
        let mut doc = Doc::new(
            self.rnd.id16(),
            format!("{}/{}", api.name, api.stage),
            start,
            end,
        );
        doc.trace_id = Some(self.trace_id.clone());
        doc.origin = Some("AWS::ApiGateway::Stage");
        doc.resource_arn = Some(format!(
            "arn:aws:apigateway:{REGION}::/restapis/{}/stages/{}",
            api.id, api.stage
        ));
        let client_ip = format!(
            "{}.{}.{}.{}",
            self.rnd.range(3, 223),
            self.rnd.range(0, 255),
            self.rnd.range(0, 255),
            self.rnd.range(1, 254)
        );
        doc.http = Some(Http {
            request: Some(HttpRequest {
                method,
                url: format!(
                    "https://{}.execute-api.{REGION}.amazonaws.com/{}{path}",
                    api.id, api.stage
                ),
                user_agent: None,
                client_ip: Some(client_ip),
                x_forwarded_for: Some(true),
            }),
            response: Some(HttpResponse {
                status,
                content_length: Some(self.rnd.range(0, 2_000)),
            }),
        });
        doc.flag_status(status);
        doc.aws = Some(Aws {
            api_gateway: Some(ApiGateway {
                account_id: ACCOUNT,
                rest_api_id: api.id,
                stage: api.stage,
                request_id: self.rnd.uuid(),
            }),
            ..Aws::default()
        });
        doc.annotations = Some(ApiGatewayAnnotations {
            api_id: api.id,
            api_stage: api.stage,
        });
        doc.subsegments = subsegments;
        doc
    }

    /// A `cause` with one exception, `remote` when the callee raised it.
    pub(crate) fn cause(&mut self, kind: &str, message: &str, remote: bool) -> Cause {
        Cause {
            working_directory: None,
            exceptions: vec![Exception {
                id: self.rnd.id16(),
                kind: kind.to_owned(),
                message: message.to_owned(),
                remote,
            }],
        }
    }

    /// A local (custom) subsegment for in-process work, as `xray_recorder.capture` names it.
    pub(crate) fn local(&mut self, name: &'static str, start: Micros, end: Micros) -> Doc {
        Doc::new(self.rnd.id16(), name, start, end)
    }
}

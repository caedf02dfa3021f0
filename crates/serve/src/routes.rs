//! Routing, authentication, limits and the JSON answers of every endpoint.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use flow_featurestore::{OnlineSnapshot, Record};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::State;
use crate::metrics::Route;
use crate::models::Served;

type Answer = Response<Full<Bytes>>;

/// A refusal: status, a stable machine-readable code and a sentence for the human.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
}

pub(crate) async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Answer, Infallible> {
    let started = Instant::now();
    let (route, answer) = match answer(&state, request).await {
        (route, Ok(answer)) => (route, answer),
        (route, Err(error)) => (route, error_answer(error)),
    };
    state.metrics.observe(route, answer.status().as_u16(), started.elapsed());
    Ok(answer)
}

async fn answer(state: &State, request: Request<Incoming>) -> (Route, Result<Answer, ApiError>) {
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (route, method) = match segments.as_slice() {
        ["healthz"] => (Route::Health, Method::GET),
        ["metrics"] => (Route::Metrics, Method::GET),
        ["v1", "groups"] => (Route::Groups, Method::GET),
        ["v1", "groups", _, "records", _] => (Route::GetRecord, Method::GET),
        ["v1", "groups", _, "records:batchGet"] => (Route::BatchGet, Method::POST),
        ["v1", "models"] => (Route::Models, Method::GET),
        ["v1", "models", _, "predict"] => (Route::Predict, Method::POST),
        _ => (Route::Other, Method::GET),
    };
    if route == Route::Health {
        return (route, Ok(json_answer(StatusCode::OK, &json!({ "status": "ok" }))));
    }
    if let Err(refused) = authorise(state, &request) {
        return (route, Err(refused));
    }
    if route == Route::Other {
        return (route, Err(ApiError::not_found("no_such_endpoint", format!("no endpoint at {path}"))));
    }
    if request.method() != method {
        let mut refused = error_answer(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{path} answers {method} only"),
        ));
        if let Ok(allow) = HeaderValue::from_str(method.as_str()) {
            refused.headers_mut().insert(header::ALLOW, allow);
        }
        return (route, Ok(refused));
    }
    let result = match (route, segments.as_slice()) {
        (Route::Metrics, _) => Ok(metrics(state)),
        (Route::Groups, _) => Ok(groups(state)),
        (Route::GetRecord, [_, _, group, _, id]) => get_record(state, group, id, request.uri().query()),
        (Route::BatchGet, [_, _, group, _]) => match read_json::<BatchGet>(state, request).await {
            Ok(body) => batch_get(state, group, body),
            Err(e) => Err(e),
        },
        (Route::Models, _) => Ok(models(state)),
        (Route::Predict, [_, _, name, _]) => match read_json::<Predict>(state, request).await {
            Ok(body) => predict(state, name, body),
            Err(e) => Err(e),
        },
        _ => Err(ApiError::not_found("no_such_endpoint", format!("no endpoint at {path}"))),
    };
    (route, result)
}

/// Checks `Authorization: Bearer TOKEN`. Every refusal looks the same, whatever was wrong.
fn authorise(state: &State, request: &Request<Incoming>) -> Result<(), ApiError> {
    let presented =
        request.headers().get(header::AUTHORIZATION).map(|value| value.as_bytes()).and_then(|value| {
            value.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer ")).map(|_| &value[7..])
        });
    match presented {
        Some(token) if state.token.matches(token) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs `Authorization: Bearer <token>` with the server's token",
        )),
    }
}

fn json_answer(status: StatusCode, body: &Value) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut answer = Response::new(Full::new(Bytes::from(bytes)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

fn error_answer(error: ApiError) -> Answer {
    let mut answer = json_answer(error.status, &json!({ "error": { "code": error.code, "message": error.message } }));
    if error.status == StatusCode::UNAUTHORIZED {
        answer.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    answer
}

fn metrics(state: &State) -> Answer {
    let groups = state.groups.all();
    let records: usize = groups.iter().map(|g| g.len()).sum();
    let text = state.metrics.render(&[
        ("flow_serve_groups", "Feature groups served.", groups.len() as f64),
        ("flow_serve_records", "Online records held, over all groups.", records as f64),
    ]);
    let mut answer = Response::new(Full::new(Bytes::from(text)));
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    answer
}

fn groups(state: &State) -> Answer {
    let groups: Vec<Value> = state
        .groups
        .all()
        .iter()
        .map(|snapshot| {
            let manifest = &snapshot.manifest;
            json!({
                "name": snapshot.group,
                "record_id": manifest.record_id,
                "event_time": manifest.event_time,
                "version": manifest.latest_version(),
                "records": snapshot.len(),
                "features": manifest.schema.iter().map(|c| json!({ "name": c.name, "type": c.dtype })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json_answer(StatusCode::OK, &json!({ "groups": groups }))
}

fn decoded<'a>(segment: &'a str, what: &str) -> Result<std::borrow::Cow<'a, str>, ApiError> {
    percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("bad_path", format!("the {what} in the path is not UTF-8 once decoded")))
}

fn snapshot(state: &State, group: &str) -> Result<Arc<OnlineSnapshot>, ApiError> {
    state.groups.get(group).ok_or_else(|| {
        let known = state.groups.names();
        ApiError::not_found(
            "unknown_group",
            format!(
                "no feature group '{group}'; groups served: {}",
                if known.is_empty() { "none (run a workflow that writes one)".to_string() } else { known.join(", ") }
            ),
        )
    })
}

fn check_id(state: &State, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::bad_request("bad_id", "a record id is empty"));
    }
    if id.len() > state.limits.max_id_bytes {
        return Err(ApiError::bad_request(
            "id_too_long",
            format!("a record id has {} bytes; the limit is {}", id.len(), state.limits.max_id_bytes),
        ));
    }
    Ok(())
}

/// The indices of the requested features in the group's schema (all when none are named).
fn selection(snapshot: &OnlineSnapshot, names: Option<&[String]>) -> Result<Option<Vec<usize>>, ApiError> {
    let Some(names) = names else { return Ok(None) };
    let schema = &snapshot.manifest.schema;
    names
        .iter()
        .map(|name| {
            snapshot.column(name).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_feature",
                    format!(
                        "group '{}' has no feature '{name}' (it has {}; GET /v1/groups lists them)",
                        snapshot.group,
                        schema.len()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn record_json(record: Record, selected: Option<&[usize]>) -> Value {
    let mut features = Map::new();
    match selected {
        None => features.extend(record.values),
        Some(indices) => {
            let mut values: Vec<Option<(String, Value)>> = record.values.into_iter().map(Some).collect();
            for &i in indices {
                if let Some((name, value)) = values.get_mut(i).and_then(Option::take) {
                    features.insert(name, value);
                }
            }
        }
    }
    json!({ "group": record.group, "id": record.id, "version": record.version, "features": features })
}

fn lookup(snapshot: &OnlineSnapshot, id: &str) -> Result<Option<Record>, ApiError> {
    snapshot.get(id).map_err(|e| {
        tracing::error!(group = snapshot.group, "stored record unreadable: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            format!("the online store of '{}': {e}", snapshot.group),
        )
    })
}

fn get_record(state: &State, group: &str, id: &str, query: Option<&str>) -> Result<Answer, ApiError> {
    let group = decoded(group, "group")?;
    let id = decoded(id, "record id")?;
    check_id(state, &id)?;
    let snapshot = snapshot(state, &group)?;
    let mut wanted: Option<Vec<String>> = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "features" => {
                let value = decoded(value, "features parameter")?;
                wanted = Some(value.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect());
            }
            other => {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!("unknown query parameter '{other}'; this endpoint takes `features=a,b`"),
                ));
            }
        }
    }
    let selected = selection(&snapshot, wanted.as_deref())?;
    match lookup(&snapshot, &id)? {
        Some(record) => Ok(json_answer(StatusCode::OK, &record_json(record, selected.as_deref()))),
        None => Err(ApiError::not_found("unknown_record", format!("group '{group}' has no record '{id}'"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchGet {
    ids: Vec<String>,
    #[serde(default)]
    features: Option<Vec<String>>,
}

fn batch_get(state: &State, group: &str, body: BatchGet) -> Result<Answer, ApiError> {
    let group = decoded(group, "group")?;
    let snapshot = snapshot(state, &group)?;
    check_ids(state, &body.ids)?;
    let selected = selection(&snapshot, body.features.as_deref())?;
    let mut records = Vec::with_capacity(body.ids.len());
    let mut not_found = Vec::new();
    for id in body.ids {
        match lookup(&snapshot, &id)? {
            Some(record) => records.push(record_json(record, selected.as_deref())),
            None => not_found.push(Value::String(id)),
        }
    }
    Ok(json_answer(StatusCode::OK, &json!({ "group": group, "records": records, "not_found": not_found })))
}

/// Reads a JSON body within the size limit and parses it as `T`.
async fn read_json<T: for<'de> Deserialize<'de>>(state: &State, request: Request<Incoming>) -> Result<T, ApiError> {
    let limit = state.limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    if let Some(kind) = request.headers().get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("");
        if !kind.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("the body is '{kind}'; send application/json"),
            ));
        }
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let body = Limited::new(request.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                too_large()
            } else {
                ApiError::bad_request("body_unreadable", format!("the body could not be read: {e}"))
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| {
        let code = if e.is_syntax() || e.is_eof() { "malformed_json" } else { "bad_request" };
        ApiError::bad_request(code, format!("the body: {e}"))
    })
}

fn models(state: &State) -> Answer {
    let models: Vec<Value> = state
        .models
        .all()
        .iter()
        .map(|m| {
            let mut groups: Vec<&str> = m.bundle.sources().iter().map(|s| s.group.as_str()).collect();
            groups.sort_unstable();
            groups.dedup();
            json!({
                "name": m.bundle.name(),
                "digest": m.digest,
                "run": m.run,
                "node": m.node,
                "workflow": m.workflow,
                "features": m.bundle.feature_names(),
                "components": m.bundle.n_components(),
                "trees": m.bundle.n_trees(),
                "groups": groups,
            })
        })
        .collect();
    json_answer(StatusCode::OK, &json!({ "models": models }))
}

/// Either record ids (features read from the online store, as the training query joined
/// them: one record per group, same id) or the feature values themselves.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Predict {
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default)]
    rows: Option<Vec<Map<String, Value>>>,
}

fn predict(state: &State, name: &str, body: Predict) -> Result<Answer, ApiError> {
    let name = decoded(name, "model name")?;
    let model = state.models.get(&name).ok_or_else(|| {
        let known = state.models.names();
        ApiError::not_found(
            "unknown_model",
            format!(
                "no model '{name}'; models served: {}",
                if known.is_empty() {
                    "none (run a workflow with an ml.bundle node)".to_string()
                } else {
                    known.join(", ")
                }
            ),
        )
    })?;
    let (labels, x) = match (body.ids, body.rows) {
        (Some(ids), None) => {
            let x = features_of_ids(state, &model, &ids)?;
            (ids.into_iter().map(|id| ("id", Value::String(id))).collect::<Vec<_>>(), x)
        }
        (None, Some(rows)) => {
            let x = features_of_rows(state, &model, &rows)?;
            ((0..rows.len()).map(|i| ("row", Value::from(i))).collect(), x)
        }
        _ => {
            return Err(ApiError::bad_request(
                "bad_request",
                "give either `ids` (record ids to read from the online store) or `rows` (feature values), not both",
            ));
        }
    };
    let probabilities = model
        .bundle
        .predict(x.view())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_score", format!("model '{name}': {e}")))?;
    let predictions: Vec<Value> = labels
        .into_iter()
        .zip(probabilities)
        .map(|((key, label), p)| {
            let mut one = Map::new();
            one.insert(key.to_string(), label);
            one.insert("probability".to_string(), json!(p));
            Value::Object(one)
        })
        .collect();
    Ok(json_answer(
        StatusCode::OK,
        &json!({ "model": model.bundle.name(), "digest": model.digest, "run": model.run, "predictions": predictions }),
    ))
}

fn check_count(state: &State, what: &str, n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::bad_request("bad_request", format!("`{what}` is empty; give at least one")));
    }
    if n > state.limits.max_batch {
        return Err(ApiError::bad_request(
            "too_many_ids",
            format!("{n} {what} in one request; the limit is {}", state.limits.max_batch),
        ));
    }
    Ok(())
}

/// (the feature's index in the model, its column's index in the group's records)
type FeatureColumn = (usize, usize);

/// A list of record ids within the limits: not empty, not too many, none empty or too long.
fn check_ids(state: &State, ids: &[String]) -> Result<(), ApiError> {
    check_count(state, "ids", ids.len())?;
    ids.iter().try_for_each(|id| check_id(state, id))
}

fn features_of_ids(state: &State, model: &Served, ids: &[String]) -> Result<ndarray::Array2<f64>, ApiError> {
    check_ids(state, ids)?;
    let sources = model.bundle.sources();
    if sources.is_empty() {
        return Err(ApiError::bad_request(
            "no_sources",
            format!(
                "model '{}' was bundled without feature groups; send `rows` of feature values",
                model.bundle.name()
            ),
        ));
    }
    // Each group once: its snapshot and where each of the model's features sits in its records.
    let mut groups: Vec<(Arc<OnlineSnapshot>, Vec<FeatureColumn>)> = Vec::new();
    for (feature_index, source) in sources.iter().enumerate() {
        let at = match groups.iter().position(|(g, _)| g.group == source.group) {
            Some(at) => at,
            None => {
                groups.push((snapshot(state, &source.group)?, Vec::new()));
                groups.len() - 1
            }
        };
        let (group, columns) = &mut groups[at];
        let column = group.column(&source.feature).ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "schema_changed",
                format!(
                    "group '{}' no longer has feature '{}' that model '{}' needs",
                    group.group,
                    source.feature,
                    model.bundle.name()
                ),
            )
        })?;
        columns.push((feature_index, column));
    }
    let mut x = ndarray::Array2::<f64>::zeros((ids.len(), sources.len()));
    for (row, id) in ids.iter().enumerate() {
        for (group, columns) in &groups {
            let record = lookup(group, id)?.ok_or_else(|| {
                ApiError::not_found("unknown_record", format!("group '{}' has no record '{id}'", group.group))
            })?;
            for &(feature, column) in columns {
                // A record stored before the group gained a column has no cell for it.
                let value = record.values.get(column).map_or(&Value::Null, |(_, v)| v);
                x[(row, feature)] = value.as_f64().ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "missing_value",
                        format!(
                            "record '{id}' of group '{}' has {} for feature '{}'; the model needs a number",
                            group.group, value, sources[feature].feature
                        ),
                    )
                })?;
            }
        }
    }
    Ok(x)
}

fn features_of_rows(
    state: &State,
    model: &Served,
    rows: &[Map<String, Value>],
) -> Result<ndarray::Array2<f64>, ApiError> {
    check_count(state, "rows", rows.len())?;
    let names = model.bundle.feature_names();
    let mut x = ndarray::Array2::<f64>::zeros((rows.len(), names.len()));
    for (r, row) in rows.iter().enumerate() {
        if let Some(unknown) = row.keys().find(|k| !names.contains(k)) {
            return Err(ApiError::bad_request(
                "unknown_feature",
                format!(
                    "row {r}: model '{}' has no feature '{unknown}' (GET /v1/models lists them)",
                    model.bundle.name()
                ),
            ));
        }
        for (f, name) in names.iter().enumerate() {
            let value = row.get(name).ok_or_else(|| {
                let missing: Vec<&str> = names.iter().filter(|n| !row.contains_key(*n)).map(String::as_str).collect();
                let shown = missing.iter().take(5).copied().collect::<Vec<_>>().join(", ");
                ApiError::bad_request(
                    "missing_feature",
                    format!(
                        "row {r} lacks {} of the model's {} features: {shown}{}",
                        missing.len(),
                        names.len(),
                        if missing.len() > 5 { ", ..." } else { "" }
                    ),
                )
            })?;
            x[(r, f)] = value.as_f64().ok_or_else(|| {
                ApiError::bad_request("wrong_type", format!("row {r}: feature '{name}' is {value}; send a number"))
            })?;
        }
    }
    Ok(x)
}

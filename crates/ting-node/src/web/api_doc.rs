//! `GET /api`: the OpenAPI document the node serves (`/v1/openapi.json`),
//! rendered as a page: every operation with its parameters, body and
//! answers, grouped by tag, each schema with its fields. Rendered on the
//! server from the same document, so it cannot drift from it.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::html::esc;
use super::Page;
use crate::http::OPENAPI_JSON;
use crate::node::Shared;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

pub async fn page(State(s): State<Arc<Shared>>) -> Response {
    let doc: Value =
        serde_json::from_str(OPENAPI_JSON).expect("the node's OpenAPI document is JSON");
    let mut page = Page::new(
        doc.pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API"),
    );
    page.body = render(&doc);
    page.into_response(&s)
}

/// The document as HTML.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<p>{}</p><p>OpenAPI {} · version {} · <a href=\"/v1/openapi.json\">the document as JSON</a></p>",
        esc(text(doc.pointer("/info/description"))),
        esc(text(doc.get("openapi"))),
        esc(text(doc.pointer("/info/version"))),
    );
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    out.push_str("<nav class=\"toc\"><ul>");
    for (path, ops) in paths {
        for m in METHODS.iter().filter(|m| ops.get(**m).is_some()) {
            let _ = write!(
                out,
                "<li><a href=\"#{a}\"><code>{M} {p}</code></a> {s}</li>",
                a = anchor(m, path),
                M = m.to_uppercase(),
                p = esc(path),
                s = esc(text(ops[*m].get("summary")))
            );
        }
    }
    out.push_str("</ul></nav>");
    for (path, ops) in paths {
        for m in METHODS.iter().filter(|m| ops.get(**m).is_some()) {
            out.push_str(&operation(doc, path, m, &ops[*m]));
        }
    }
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        out.push_str("<h2 id=\"schemas\">Schemas</h2>");
        for (name, schema) in schemas {
            let _ = write!(
                out,
                "<section class=\"schema\" id=\"schema-{n}\"><h3>{n}</h3>{}{}</section>",
                description(schema),
                properties(doc, schema),
                n = esc(name)
            );
        }
    }
    out
}

fn text(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or("")
}

fn anchor(method: &str, path: &str) -> String {
    let mut a = format!("op-{method}-");
    a.extend(
        path.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }),
    );
    a
}

fn description(v: &Value) -> String {
    match v.get("description").and_then(Value::as_str) {
        Some(d) => format!("<p>{}</p>", esc(d)),
        None => String::new(),
    }
}

/// Follows a `$ref` inside the document, once.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(pointer) => doc.pointer(pointer).unwrap_or(v),
        None => v,
    }
}

/// A schema's name (its `$ref`) linked to its section, or its type.
fn schema_name(v: &Value) -> String {
    if let Some(name) = v
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
    {
        return format!("<a href=\"#schema-{n}\">{n}</a>", n = esc(name));
    }
    match (v.get("type").and_then(Value::as_str), v.get("items")) {
        (Some("array"), Some(items)) => format!("array of {}", schema_name(items)),
        (Some(t), _) => esc(t),
        (None, _) => String::from("value"),
    }
}

fn operation(doc: &Value, path: &str, method: &str, op: &Value) -> String {
    let mut out = format!(
        "<section class=\"endpoint\" id=\"{}\" data-method=\"{method}\" data-path=\"{p}\"><h2><code>{} {p}</code></h2><p><strong>{}</strong></p>{}",
        anchor(method, path),
        method.to_uppercase(),
        esc(text(op.get("summary"))),
        description(op),
        p = esc(path),
    );
    let params: Vec<&Value> = op["parameters"]
        .as_array()
        .map(|a| a.iter().map(|p| resolve(doc, p)).collect())
        .unwrap_or_default();
    if !params.is_empty() {
        out.push_str("<table class=\"params\"><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(text(p.get("name"))),
                esc(text(p.get("in"))),
                p.get("schema").map_or_else(String::new, schema_name),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                esc(text(p.get("description")))
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b)) {
        let schema = body.pointer("/content/application~1json/schema");
        let _ = write!(
            out,
            "<p>Body: {} {}</p>",
            schema.map_or_else(|| String::from("bytes"), schema_name),
            esc(text(body.get("description")))
        );
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("<table class=\"responses\"><thead><tr><th>Status</th><th>Answer</th><th>Schema</th></tr></thead><tbody>");
        for (code, r) in responses {
            let r = resolve(doc, r);
            let schema = r
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|c| c.get("schema"));
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(code),
                esc(text(r.get("description"))),
                schema.map_or_else(String::new, schema_name)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    out
}

fn properties(doc: &Value, schema: &Value) -> String {
    let schema = resolve(doc, schema);
    let Some(props) = schema["properties"].as_object() else {
        return String::new();
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = String::from("<table class=\"schema-fields\"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
    for (name, p) in props {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            schema_name(p),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            },
            esc(text(p.get("description")))
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_document_is_rendered() {
        let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("json");
        let html = render(&doc);
        let mut ops = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS.iter().filter(|m| item.get(**m).is_some()) {
                ops += 1;
                let marker = format!("data-method=\"{m}\" data-path=\"{}\"", esc(path));
                assert!(html.contains(&marker), "{m} {path} is missing");
            }
        }
        assert_eq!(html.matches("class=\"endpoint\"").count(), ops);
        assert!(ops > 20);
    }
}

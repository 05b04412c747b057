//! The OpenAPI document, generated from the handlers' annotations and served
//! at `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::envelope;

#[derive(OpenApi)]
#[openapi(
    info(title = "Kilat Dispatch API", description = "REST API of the Kilat apps (the rules behind it: docs/API.md; the /ws frames: docs/PROTOCOL.md). \
        Every JSON response is the Kilat envelope unless marked raw; timestamps are RFC 3339 UTC with whole seconds."),
    components(schemas(envelope::ErrorBody, envelope::RawError, envelope::Message, envelope::Pagination)),
    tags((name = "identity"), (name = "admin"), (name = "health"), (name = "runners"), (name = "pets",
        description = "also served on /api/v1/users/me/pets"), (name = "petshops"), (name = "bookings"),
        (name = "payments", description = "escrow: a manual-capture hold, captured on the owner's confirm, voided or refunded on cancel"),
        (name = "payouts", description = "runners' balance and cash-outs, and the double-entry ledger behind them"), (name = "promos", description = "discount codes, applied when a booking is paid"), (name = "subscriptions", description = "plans whose discount applies to every booking while in force"), (name = "referrals", description = "a friend's code at sign-up; both get credit when the friend's first booking completes"), (name = "chat"), (name = "reviews", description = "an owner rates the runner of a completed trip; the rating drives dispatch ranking"), (name = "runner-applications", description = "people apply to become runners; admins approve or reject"), (name = "notifications"), (name = "tracking"), (name = "realtime", description = "WebSocket upgrades; the frames are in docs/PROTOCOL.md")),
)]
pub struct ApiDoc;

pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Operations behind the role guard (`AuthUser::require`), as (method,
/// path): a caller of the wrong role gets the contract's raw 403
/// `{"error":"insufficient permissions"}`. A test keeps this list equal to
/// the handlers that call the guard.
pub const ROLE_GUARDED: &[(&str, &str)] = &[
    ("get", "/api/v1/admin/users"),
    ("get", "/api/v1/admin/users/{id}"),
    ("post", "/api/v1/admin/users/{id}/ban"),
    ("get", "/api/v1/admin/stats/users"),
    ("get", "/api/v1/admin/dispatch/stats"),
    ("post", "/api/v1/bookings"),
    ("post", "/api/v1/bookings/quote"),
    ("post", "/api/v1/bookings/{id}/accept"),
    ("post", "/api/v1/bookings/{id}/decline"),
    ("post", "/api/v1/bookings/{id}/pickup"),
    ("post", "/api/v1/bookings/{id}/deliver"),
    ("post", "/api/v1/bookings/{id}/confirm"),
    ("post", "/api/v1/bookings/{id}/rebook"),
    ("post", "/api/v1/bookings/{id}/photo"),
    ("get", "/api/v1/admin/bookings"),
    ("get", "/api/v1/admin/stats/bookings"),
    ("post", "/api/v1/payments/initiate"),
    ("get", "/api/v1/payments"),
    ("post", "/api/v1/payments/{id}/refund"),
    ("get", "/api/v1/admin/payments"),
    ("get", "/api/v1/admin/stats/payments"),
    ("get", "/api/v1/admin/payments/dead-letters"),
    ("post", "/api/v1/admin/payments/dead-letters/{id}/retry"),
    ("post", "/api/v1/pets"),
    ("get", "/api/v1/pets"),
    ("get", "/api/v1/pets/{id}"),
    ("put", "/api/v1/pets/{id}"),
    ("delete", "/api/v1/pets/{id}"),
    ("get", "/api/v1/petshops/mine"),
    ("post", "/api/v1/petshops"),
    ("put", "/api/v1/petshops/{id}"),
    ("delete", "/api/v1/petshops/{id}"),
    ("post", "/api/v1/runners"),
    ("get", "/api/v1/runners/me"),
    ("put", "/api/v1/runners/me"),
    ("post", "/api/v1/runners/me/online"),
    ("post", "/api/v1/runners/me/offline"),
    ("post", "/api/v1/runners/me/location"),
    ("post", "/api/v1/runners/me/crates"),
    ("get", "/api/v1/runners/nearby"),
    ("post", "/api/v1/bookings/{id}/review"),
    ("post", "/api/v1/reviews/{id}/reply"),
    ("get", "/api/v1/admin/runner-applications"),
    ("post", "/api/v1/admin/runner-applications/{id}/approve"),
    ("post", "/api/v1/admin/runner-applications/{id}/reject"),
    ("get", "/api/v1/payouts/balance"),
    ("post", "/api/v1/payouts/destinations"),
    ("get", "/api/v1/payouts/destinations"),
    ("post", "/api/v1/payouts/cash-out"),
    ("get", "/api/v1/payouts/cash-outs"),
    ("get", "/api/v1/admin/payouts/dead-letters"),
    ("post", "/api/v1/admin/payouts/dead-letters/{id}/retry"),
    ("get", "/api/v1/admin/ledger/check"),
    ("post", "/api/v1/admin/bookings/{id}/redispatch"),
    ("post", "/api/v1/promos"),
    ("get", "/api/v1/admin/promos"),
];

/// Makes the generated document say what is served, everywhere at once:
/// every operation that takes a token documents the raw 401; a role-guarded
/// one documents the raw 403 (and the envelope 403 where it also refuses
/// on ownership); path ids are UUIDs.
pub struct AsServed;

impl Modify for AsServed {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Operation, ParameterIn};
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

        let raw = || Content::new(Some(RefOr::Ref(Ref::from_schema_name("RawError"))));
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops: [(&str, &mut Option<Operation>); 4] = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let guarded = ROLE_GUARDED.contains(&(method, path.as_str()));
                let responses = &mut op.responses.responses;
                if secured && !responses.contains_key("401") {
                    let r = ResponseBuilder::new()
                        .description("missing, malformed, invalid or expired token; banned user; ended session (raw)")
                        .content("application/json", raw())
                        .build();
                    responses.insert("401".into(), RefOr::T(r));
                }
                if guarded {
                    let also_envelope = responses.contains_key("403");
                    let content = if also_envelope {
                        let one_of = OneOfBuilder::new()
                            .item(RefOr::Ref(Ref::from_schema_name("RawError")))
                            .item(RefOr::Ref(Ref::from_schema_name("ErrorBody")))
                            .build();
                        Content::new(Some(RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of))))
                    } else {
                        raw()
                    };
                    let description = if also_envelope {
                        "wrong role: raw `{\"error\":\"insufficient permissions\"}`; not yours: envelope"
                    } else {
                        "wrong role: raw `{\"error\":\"insufficient permissions\"}`"
                    };
                    let r =
                        ResponseBuilder::new().description(description).content("application/json", content).build();
                    responses.insert("403".into(), RefOr::T(r));
                }
                for param in op.parameters.iter_mut().flatten() {
                    if param.parameter_in == ParameterIn::Path && param.name != "token" {
                        let uuid = ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                            .build();
                        param.schema = Some(RefOr::T(uuid.into()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path) of every handler in `src/http` that calls the role
    /// guard, directly or through a helper of its file.
    fn guarded_handlers() -> std::collections::BTreeSet<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
        let mut found = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                continue; // ws/: upgrades, documented in docs/PROTOCOL.md
            }
            let text = std::fs::read_to_string(path).unwrap();
            let starts: Vec<usize> = text
                .match_indices("fn ")
                .map(|(i, _)| i)
                .filter(|i| text[i + 3..].starts_with(|c: char| c.is_ascii_lowercase()))
                .collect();
            let fns: Vec<(String, usize, &str)> = starts
                .iter()
                .enumerate()
                .map(|(n, &at)| {
                    let name = text[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    (name, at, &text[at..starts.get(n + 1).copied().unwrap_or(text.len())])
                })
                .collect();
            let guards: Vec<&String> = fns.iter().filter(|f| f.2.contains("require(Role")).map(|f| &f.0).collect();
            for (_, at, body) in &fns {
                let handler = text[..*at].ends_with("pub async ");
                let calls_guard = guards.iter().any(|g| body.contains(&format!("{g}(")));
                if !(handler && (body.contains("require(Role") || calls_guard)) {
                    continue;
                }
                let attr = &text[text[..*at].rfind("#[utoipa::path(").unwrap()..*at];
                let method: String =
                    attr["#[utoipa::path(".len()..].chars().take_while(|c| c.is_alphabetic()).collect();
                let path = attr.split("path = \"").nth(1).unwrap().split('"').next().unwrap();
                found.insert((method, path.to_owned()));
            }
        }
        found
    }

    #[test]
    fn the_role_guarded_list_matches_the_handlers() {
        let listed = ROLE_GUARDED.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        assert_eq!(guarded_handlers(), listed);
    }

    #[test]
    fn the_document_says_what_is_served() {
        let doc = serde_json::to_value(crate::http::routes::document()).unwrap();
        let mut secured = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = &op["responses"];
                if op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty())) {
                    secured += 1;
                    assert!(responses.get("401").is_some(), "{method} {path} documents 401");
                }
                if ROLE_GUARDED.contains(&(method.as_str(), path.as_str())) {
                    let body = responses["403"]["content"]["application/json"]["schema"].to_string();
                    assert!(body.contains("RawError"), "{method} {path}: 403 is raw: {body}");
                }
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "path" && param["name"] != "token" {
                        assert_eq!(param["schema"]["format"], "uuid", "{method} {path} {}", param["name"]);
                    }
                }
            }
        }
        assert!(secured > 60, "{secured}");
    }
}

//! The Kilat envelope (docs/API.md#envelope).

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Pagination {
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub total_pages: i64,
}

impl Pagination {
    pub fn new(total: i64, page: i64, limit: i64) -> Self {
        let total_pages = if limit > 0 { (total + limit - 1) / limit } else { 0 };
        Self { total, page, limit, total_pages }
    }
}

/// `{"message": …}` as `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// `{"success":false,"error":…,"detail":…}` (documentation only; built in `error.rs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub success: bool,
    pub error: String,
    pub detail: String,
}

/// `{"error":…}` from the auth and rate-limit layers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RawError {
    pub error: String,
}

pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope { success: true, data })
}

pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(Envelope { success: true, data })
}

pub fn message(text: &str) -> HttpResponse {
    ok(Message { message: text.to_owned() })
}

pub fn paginated<T: Serialize>(data: Vec<T>, pagination: Pagination) -> HttpResponse {
    HttpResponse::Ok().json(Paginated { success: true, data, pagination })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_pages_is_the_ceiling() {
        assert_eq!(Pagination::new(0, 1, 20).total_pages, 0);
        assert_eq!(Pagination::new(20, 1, 20).total_pages, 1);
        assert_eq!(Pagination::new(21, 1, 20).total_pages, 2);
    }
}

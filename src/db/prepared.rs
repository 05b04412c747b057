//! Hand-written SQL that the connection prepares once and keeps.
//!
//! diesel never caches a `sql_query` (it marks itself unsafe to cache), so
//! each one is parsed, analysed and planned by PostgreSQL on every call. On
//! the booking create path that was three statements per create (the two
//! events and the owner's notice). A [`Prepared`] is the same text with the
//! same binds, but diesel keys it by its SQL in the connection's statement
//! cache: it is parsed once per connection, and PostgreSQL moves it to a
//! generic plan after a few runs.
//!
//! The text numbers its parameters `$1`, `$2`, … like `sql_query`'s; a
//! parameter may appear more than once. It must hold no other `$`.

use std::borrow::Cow;
use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// One statement's text and binds (see the module's notes).
pub struct Prepared<'a> {
    sql: Cow<'a, str>,
    params: Vec<Box<dyn Param + Send + 'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(sql: impl Into<Cow<'a, str>>) -> Self {
        Self { sql: sql.into(), params: Vec::new() }
    }

    /// The next parameter (`$1` first), as SQL type `ST`.
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + Send + 'a,
        ST: 'a,
    {
        self.params.push(Box::new(Typed::<ST, T> { value, sql_type: PhantomData }));
        self
    }
}

trait Param {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Typed<ST, T> {
    value: T,
    sql_type: PhantomData<fn() -> ST>,
}

impl<ST, T> Param for Typed<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

fn bad_text(why: String) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(why.into())
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest: &str = &self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let n: usize = after[..digits].parse().map_err(|_| bad_text(format!("a bare `$` in {}", self.sql)))?;
            let param = n
                .checked_sub(1)
                .and_then(|i| self.params.get(i))
                .ok_or_else(|| bad_text(format!("${n} has no bind in {}", self.sql)))?;
            // (pushed again at each use: diesel numbers every placeholder)
            param.push(&mut out)?;
            rest = &after[digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> diesel::RunQueryDsl<Conn> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{Integer, Text};

    fn sql(q: &Prepared<'_>) -> String {
        diesel::debug_query::<Pg, _>(q).to_string()
    }

    #[test]
    fn placeholders_are_numbered_in_order_and_a_reused_one_is_bound_again() {
        let q = Prepared::new("SELECT $1 WHERE a = $2 OR b = $2").bind::<Integer, _>(7).bind::<Text, _>("x");
        let shown = sql(&q);
        assert!(shown.starts_with("SELECT $1 WHERE a = $2 OR b = $3"), "{shown}");
        assert!(shown.ends_with("-- binds: [7, \"x\", \"x\"]"), "{shown}");
    }

    #[test]
    fn a_placeholder_without_a_bind_is_an_error_not_a_panic() {
        let q = Prepared::new("SELECT $2").bind::<Integer, _>(1);
        let mut builder = <Pg as diesel::backend::Backend>::QueryBuilder::default();
        assert!(q.to_sql(&mut builder, &Pg).is_err());
        let bare = Prepared::new("SELECT $ 1");
        assert!(bare.to_sql(&mut builder, &Pg).is_err());
    }
}

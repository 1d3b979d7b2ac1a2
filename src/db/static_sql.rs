//! `static_sql`: raw SQL whose prepared statement is cached. Diesel's own `sql()` marks a statement
//! "unsafe to cache", so SQLite parses and plans it again on every run. Text that is a
//! `&'static str` with bound values cannot vary between runs, so the statement cache may key it by
//! its SQL text, as it does any other query without a static type id.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, TypedExpressionType, ValidGrouping, is_aggregate,
};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::{QueryResult, RunQueryDsl};

/// Raw SQL of type `ST`: `static_sql::<Bool>("x = ").bind::<Text, _>(v).sql(" OR y")`.
pub fn static_sql<ST: TypedExpressionType>(sql: &'static str) -> StaticSql<ST, ()> {
    StaticSql { inner: (), sql, _type: PhantomData }
}

/// `inner`, then `sql`.
#[derive(Debug, Clone)]
pub struct StaticSql<ST, T> {
    inner: T,
    sql: &'static str,
    _type: PhantomData<ST>,
}

/// `inner`, then one bound value.
#[derive(Debug, Clone)]
pub struct StaticBind<ST, T, BST, V> {
    inner: T,
    value: V,
    _type: PhantomData<(ST, BST)>,
}

impl<ST: TypedExpressionType, T> StaticSql<ST, T> {
    pub fn bind<BST, V>(self, value: V) -> StaticBind<ST, Self, BST, V> {
        StaticBind { inner: self, value, _type: PhantomData }
    }

    pub fn sql(self, sql: &'static str) -> StaticSql<ST, Self> {
        StaticSql { inner: self, sql, _type: PhantomData }
    }
}

impl<ST: TypedExpressionType, T, BST, V> StaticBind<ST, T, BST, V> {
    pub fn sql(self, sql: &'static str) -> StaticSql<ST, Self> {
        StaticSql { inner: self, sql, _type: PhantomData }
    }

    pub fn bind<BST2, V2>(self, value: V2) -> StaticBind<ST, Self, BST2, V2> {
        StaticBind { inner: self, value, _type: PhantomData }
    }
}

impl<ST, T, DB> QueryFragment<DB> for StaticSql<ST, T>
where
    DB: Backend,
    T: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.inner.walk_ast(out.reborrow())?;
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<ST, T, BST, V, DB> QueryFragment<DB> for StaticBind<ST, T, BST, V>
where
    DB: Backend + HasSqlType<BST>,
    T: QueryFragment<DB>,
    V: ToSql<BST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.inner.walk_ast(out.reborrow())?;
        out.push_bind_param::<BST, V>(&self.value)
    }
}

// No static query id: the cache must key these by their SQL text, which differs between them.
impl<ST, T> QueryId for StaticSql<ST, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, T, BST, V> QueryId for StaticBind<ST, T, BST, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

macro_rules! expression_impls {
    ($name:ident < $($p:ident),* >) => {
        impl<ST: TypedExpressionType, $($p),*> Expression for $name<ST, $($p),*> {
            type SqlType = ST;
        }
        impl<ST: TypedExpressionType, $($p),*> Query for $name<ST, $($p),*> {
            type SqlType = ST;
        }
        impl<ST, $($p,)* GB> ValidGrouping<GB> for $name<ST, $($p),*> {
            type IsAggregate = is_aggregate::Never;
        }
        impl<ST: TypedExpressionType, $($p,)* QS> SelectableExpression<QS> for $name<ST, $($p),*> {}
        impl<ST: TypedExpressionType, $($p,)* QS> AppearsOnTable<QS> for $name<ST, $($p),*> {}
        impl<ST, $($p,)* Conn> RunQueryDsl<Conn> for $name<ST, $($p),*> {}
    };
}

expression_impls!(StaticSql<T>);
expression_impls!(StaticBind<T, BST, V>);

/// An `ORDER BY` followed by `LIMIT <n>` (and `OFFSET ?` past the first page), the page size
/// written into the SQL: given to a boxed query's `.order()`, in place of `.limit().offset()`. The
/// planner needs the limit to pick "walk the index in order and stop after n" over "find all, then
/// sort", and under the query planner stability guarantee (`.cargo/config.toml`) it does not look
/// at a bound one. Page sizes are a few fixed values, so each gets one cached statement.
#[derive(Debug, Clone)]
pub struct Paged<O> {
    order: O,
    limit: i64,
    offset: i64,
}

impl<O> Paged<O> {
    pub fn new(order: O, limit: i64, offset: i64) -> Self {
        Paged { order, limit, offset }
    }
}

impl<O, DB> QueryFragment<DB> for Paged<O>
where
    DB: Backend + HasSqlType<diesel::sql_types::BigInt>,
    O: QueryFragment<DB>,
    i64: ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.order.walk_ast(out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.limit));
        // The first page, by far the most viewed, has no OFFSET at all: a prepared statement with an
        // OFFSET parameter is planned afresh on every run by PostgreSQL (its generic plan, costed for
        // an unknown offset, never looks as good as a custom one), and planning costs about as much
        // as running the page query.
        if self.offset == 0 {
            return Ok(());
        }
        out.push_sql(" OFFSET ");
        out.push_bind_param::<diesel::sql_types::BigInt, i64>(&self.offset)
    }
}

impl<O> QueryId for Paged<O> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<O: Expression> Expression for Paged<O> {
    type SqlType = O::SqlType;
}

impl<O: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for Paged<O> {}

impl<O, GB> ValidGrouping<GB> for Paged<O> {
    type IsAggregate = is_aggregate::Never;
}

/// `<column> IN (?, ?, …)` with a fixed number of bound ids, padded with 0 (no row has id 0).
/// Diesel's `eq_any` marks a statement uncacheable, as its number of values varies, so both
/// databases would parse and plan the search's page query on every run. Padded to the page size,
/// it is one of three cached statements.
#[derive(Debug, Clone)]
pub struct IdIn {
    column: &'static str,
    ids: Vec<i64>,
}

impl IdIn {
    /// `ids` (at most `slots` of them) padded to `slots` values.
    pub fn padded(column: &'static str, mut ids: Vec<i64>, slots: usize) -> Self {
        ids.resize(slots.max(ids.len()).max(1), 0);
        IdIn { column, ids }
    }
}

impl<DB> QueryFragment<DB> for IdIn
where
    DB: Backend + HasSqlType<diesel::sql_types::BigInt>,
    i64: ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.column);
        out.push_sql(" IN (");
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<diesel::sql_types::BigInt, i64>(id)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for IdIn {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Expression for IdIn {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> AppearsOnTable<QS> for IdIn {}
impl<QS> SelectableExpression<QS> for IdIn {}

impl<GB> ValidGrouping<GB> for IdIn {
    type IsAggregate = is_aggregate::Never;
}

//! Pet profiles (owner-only, soft archive).

use super::DbError;
use crate::domain::pet::PetStatus;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::pets;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pets, check_for_backend(diesel::pg::Pg))]
pub struct Pet {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub pet_type: String,
    pub breed: String,
    pub weight_kg: f64,
    pub age_months: i32,
    pub allergies: String,
    pub special_needs: String,
    pub notes: String,
    pub photo_url: String,
    pub vaccination_status: String,
    pub status: PetStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Insertable, AsChangeset)]
#[diesel(table_name = pets)]
pub struct PetFields {
    pub name: Option<String>,
    pub pet_type: Option<String>,
    pub breed: Option<String>,
    pub weight_kg: Option<f64>,
    pub age_months: Option<i32>,
    pub allergies: Option<String>,
    pub special_needs: Option<String>,
    pub notes: Option<String>,
    pub photo_url: Option<String>,
    pub vaccination_status: Option<String>,
}

pub async fn create(conn: &mut Conn, owner_id: Uuid, fields: PetFields) -> Result<Pet, DbError> {
    Ok(diesel::insert_into(pets::table)
        .values((pets::id.eq(super::new_id()), pets::owner_id.eq(owner_id), fields))
        .returning(Pet::as_returning())
        .get_result(conn)
        .await?)
}

/// Active pets, newest first.
pub async fn list_active(conn: &mut Conn, owner_id: Uuid) -> Result<Vec<Pet>, DbError> {
    Ok(pets::table
        .filter(pets::owner_id.eq(owner_id))
        .filter(pets::status.eq(PetStatus::Active))
        .order((pets::created_at.desc(), pets::id.desc()))
        .select(Pet::as_select())
        .load(conn)
        .await?)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<Option<Pet>, DbError> {
    Ok(pets::table.find(id).select(Pet::as_select()).first(conn).await.optional()?)
}

pub async fn update(conn: &mut Conn, id: Uuid, fields: PetFields) -> Result<Pet, DbError> {
    let unchanged = fields.name.is_none()
        && fields.pet_type.is_none()
        && fields.breed.is_none()
        && fields.weight_kg.is_none()
        && fields.age_months.is_none()
        && fields.allergies.is_none()
        && fields.special_needs.is_none()
        && fields.notes.is_none()
        && fields.photo_url.is_none()
        && fields.vaccination_status.is_none();
    if unchanged {
        return find(conn, id).await?.ok_or_else(|| DbError::not_found("pet", id));
    }
    Ok(diesel::update(pets::table.find(id))
        .set((fields, pets::updated_at.eq(Utc::now())))
        .returning(Pet::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn archive(conn: &mut Conn, id: Uuid) -> Result<(), DbError> {
    diesel::update(pets::table.find(id))
        .set((pets::status.eq(PetStatus::Archived), pets::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

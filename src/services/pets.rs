//! An owner's pet profiles: what the owner may do to which profile.

use uuid::Uuid;

use super::Services;
use crate::db::DbError;
use crate::db::pets::{self, Pet, PetFields};
use crate::domain::Refusal;
use crate::error::AppError;

/// The pet, if `owner` owns it: 404 `Pet not found`, then 403.
async fn owned(conn: &mut crate::db::Conn, id: Uuid, owner: Uuid) -> Result<Pet, AppError> {
    let pet = pets::find(conn, id).await?.ok_or_else(|| DbError::not_found("pet", id))?;
    if pet.owner_id != owner {
        return Err(Refusal::NotYours("you do not own this pet profile").into());
    }
    Ok(pet)
}

/// A new profile: a name and a pet type are required.
pub async fn create(s: &Services, owner: Uuid, fields: PetFields) -> Result<Pet, AppError> {
    if fields.name.is_none() {
        return Err(AppError::BadRequest("name is required".into()));
    }
    if fields.pet_type.is_none() {
        return Err(AppError::BadRequest("pet_type is required".into()));
    }
    let mut conn = s.pool.get().await?;
    Ok(pets::create(&mut conn, owner, fields).await?)
}

/// The owner's active profiles, newest first.
pub async fn list(s: &Services, owner: Uuid) -> Result<Vec<Pet>, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(pets::list_active(&mut conn, owner).await?)
}

pub async fn get(s: &Services, owner: Uuid, id: Uuid) -> Result<Pet, AppError> {
    let mut conn = s.pool.get().await?;
    owned(&mut conn, id, owner).await
}

/// Absent fields stay as they are.
pub async fn update(s: &Services, owner: Uuid, id: Uuid, fields: PetFields) -> Result<Pet, AppError> {
    let mut conn = s.pool.get().await?;
    owned(&mut conn, id, owner).await?;
    Ok(pets::update(&mut conn, id, fields).await?)
}

/// Archived, not deleted: bookings that name the pet keep it.
pub async fn archive(s: &Services, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    let mut conn = s.pool.get().await?;
    owned(&mut conn, id, owner).await?;
    pets::archive(&mut conn, id).await?;
    Ok(())
}

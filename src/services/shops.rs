//! Pet shops: anyone signed in reads them; a shop account manages its own.

use uuid::Uuid;

use super::Services;
use crate::db::DbError;
use crate::db::shops::{self, PetShop, ShopFields};
use crate::domain::Refusal;
use crate::error::AppError;

/// The shop, if `owner` owns it: 404 `PetShop not found`, then 403.
async fn owned(conn: &mut crate::db::Conn, id: Uuid, owner: Uuid) -> Result<PetShop, AppError> {
    let shop = shops::find(conn, id).await?.ok_or_else(|| DbError::not_found("petShop", id))?;
    if shop.owner_id != Some(owner) {
        return Err(Refusal::NotYours("you do not own this pet shop").into());
    }
    Ok(shop)
}

/// A new shop: a name, an address and a category are required.
pub async fn create(s: &Services, owner: Uuid, fields: ShopFields) -> Result<PetShop, AppError> {
    for (value, name) in [(&fields.name, "name"), (&fields.address, "address"), (&fields.category, "category")] {
        if value.is_none() {
            return Err(AppError::BadRequest(format!("{name} is required")));
        }
    }
    let mut conn = s.pool.get().await?;
    Ok(shops::create(&mut conn, owner, fields).await?)
}

/// Absent fields stay as they are.
pub async fn update(s: &Services, owner: Uuid, id: Uuid, fields: ShopFields) -> Result<PetShop, AppError> {
    let mut conn = s.pool.get().await?;
    owned(&mut conn, id, owner).await?;
    Ok(shops::update(&mut conn, id, fields).await?)
}

pub async fn delete(s: &Services, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    let mut conn = s.pool.get().await?;
    owned(&mut conn, id, owner).await?;
    shops::delete(&mut conn, id).await?;
    Ok(())
}

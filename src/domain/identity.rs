//! Identity rules (docs/API.md#identity): email, phone, password, role.

use std::fmt;

use super::ValidationError;

/// A trimmed, lower-cased, plausibly valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(ValidationError::new("email is required"));
        }
        if email.len() > 254 || !looks_like_email(&email) {
            return Err(ValidationError::new(format!("invalid email format: {}", raw.trim())));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// `^\+?[0-9]{7,15}$`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let phone = raw.trim();
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(phone.to_owned()))
        } else {
            Err(ValidationError::new(format!("invalid phone format: {phone}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 128;

/// A new password that meets the length rule. Never logged.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if len < MIN_PASSWORD_LEN {
            return Err(ValidationError::new("password must be at least 8 characters"));
        }
        if len > MAX_PASSWORD_LEN {
            return Err(ValidationError::new("password must be at most 128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Runner,
    Shop,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Runner, Role::Shop, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Runner => "runner",
            Role::Shop => "shop",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw.trim().to_ascii_lowercase())
    }

    /// Roles a person may give themselves on `/auth/register`. Admins are
    /// made only by `kilat admin create` (docs/API.md#auth-and-roles).
    pub fn parse_self_registered(raw: &str) -> Result<Self, ValidationError> {
        match Role::parse(raw) {
            Some(Role::Admin) | None => Err(ValidationError::new("role must be one of: owner, runner, shop")),
            Some(role) => Ok(role),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A required, trimmed, non-empty full name.
pub fn parse_full_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::new("full_name is required"));
    }
    if name.chars().count() > 200 {
        return Err(ValidationError::new("full_name must be at most 200 characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Aisyah@Example.MY ").unwrap().as_str(), "aisyah@example.my");
    }

    #[test]
    fn bad_emails_name_the_input() {
        for bad in ["aisyah", "a@b", "@example.my", "a@.my", "a b@example.my", "a@exa_mple.my"] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.0, format!("invalid email format: {bad}"));
        }
        assert_eq!(Email::parse("  ").unwrap_err().0, "email is required");
    }

    #[test]
    fn phone_rule_matches_the_contract() {
        assert!(Phone::parse("+60123456789").is_ok());
        assert!(Phone::parse("0123456").is_ok());
        assert!(Phone::parse("123456").is_err());
        assert!(Phone::parse("+1234567890123456").is_err());
        assert_eq!(Phone::parse("+60-12").unwrap_err().0, "invalid phone format: +60-12");
    }

    #[test]
    fn password_length_boundaries() {
        assert!(NewPassword::parse("1234567").is_err());
        assert!(NewPassword::parse("12345678").is_ok());
        assert!(format!("{:?}", NewPassword::parse("secret-password").unwrap()).contains("redacted"));
    }

    #[test]
    fn public_registration_refuses_admin() {
        assert_eq!(Role::parse_self_registered("Runner").unwrap(), Role::Runner);
        assert_eq!(Role::parse_self_registered("shop").unwrap(), Role::Shop);
        assert!(Role::parse_self_registered("admin").is_err());
        assert!(Role::parse_self_registered("driver").is_err());
    }
}

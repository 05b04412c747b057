//! Reviews: an owner's rating of the runner who carried a completed trip
//! (docs/API.md#reviews).

use super::ValidationError;

/// What an owner may tag a trip with.
pub const TAGS: [&str; 8] = ["gentle", "on_time", "clean_crate", "friendly", "careful", "late", "rough", "dirty_crate"];

pub const MAX_COMMENT: usize = 1000;
pub const MAX_REPLY: usize = 1000;

/// A review as parsed: a whole 1..=5 rating, a comment, known tags (once each).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewInput {
    pub rating: i16,
    pub comment: String,
    pub tags: Vec<String>,
}

impl ReviewInput {
    pub fn parse(
        rating: Option<&serde_json::Value>,
        comment: Option<String>,
        tags: Option<Vec<String>>,
    ) -> Result<Self, ValidationError> {
        let rating = rating
            .and_then(serde_json::Value::as_i64)
            .filter(|r| (1..=5).contains(r))
            .ok_or_else(|| ValidationError::new("rating must be a whole number from 1 to 5"))?;
        let comment = comment.map(|c| c.trim().to_owned()).unwrap_or_default();
        if comment.chars().count() > MAX_COMMENT {
            return Err(ValidationError::new("comment must be at most 1000 characters"));
        }
        let mut parsed: Vec<String> = Vec::new();
        for tag in tags.unwrap_or_default() {
            let tag = tag.trim().to_ascii_lowercase();
            if !TAGS.contains(&tag.as_str()) {
                return Err(ValidationError::new(format!("unknown tag '{tag}'; tags are: {}", TAGS.join(", "))));
            }
            if !parsed.contains(&tag) {
                parsed.push(tag);
            }
        }
        Ok(Self { rating: rating as i16, comment, tags: parsed })
    }
}

/// A runner's answer to a review: not empty, at most 1000 characters.
pub fn parse_reply(text: Option<&str>) -> Result<String, ValidationError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ValidationError::new("text is required"));
    }
    if text.chars().count() > MAX_REPLY {
        return Err(ValidationError::new("text must be at most 1000 characters"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratings_are_whole_numbers_from_one_to_five() {
        for ok in [1, 3, 5] {
            assert_eq!(ReviewInput::parse(Some(&json!(ok)), None, None).unwrap().rating, ok as i16);
        }
        for bad in [json!(0), json!(6), json!(4.5), json!("5"), json!(null)] {
            assert!(ReviewInput::parse(Some(&bad), None, None).is_err(), "{bad}");
        }
        assert!(ReviewInput::parse(None, None, None).is_err());
    }

    #[test]
    fn tags_come_from_the_list_once_each_and_comments_are_bounded() {
        let r = ReviewInput::parse(Some(&json!(5)), Some(" ok ".into()), Some(vec!["Gentle".into(), "gentle".into()]))
            .unwrap();
        assert_eq!((r.comment.as_str(), r.tags), ("ok", vec!["gentle".to_owned()]));
        assert!(ReviewInput::parse(Some(&json!(5)), None, Some(vec!["fast".into()])).unwrap_err().0.contains("fast"));
        assert!(ReviewInput::parse(Some(&json!(5)), Some("x".repeat(1001)), None).is_err());
        assert!(parse_reply(Some("  ")).is_err());
        assert_eq!(parse_reply(Some(" thanks ")).unwrap(), "thanks");
    }
}

//! The generated insert and patch structs as a web service reads them from a JSON body
//! (`new(derive(…))`, `patch(derive(…), attr(…))`): a patch tells an absent field (unchanged)
//! from `null` (set NULL) and refuses `null` for a NOT NULL column; the writes they make are
//! read back from each database; pages of a `Serialize` model serialise.
#![cfg(feature = "testing")]

use kysera::sqlx::AssertSqlSafe;
use kysera::{Dialect, Executor, Repository};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Repository)]
#[kysera(
    table = "k_profiles",
    new(derive(Deserialize, Serialize), attr(serde(rename_all = "camelCase"))),
    patch(
        derive(Deserialize, Serialize),
        attr(serde(rename_all = "camelCase"), serde(deny_unknown_fields))
    )
)]
struct Profile {
    #[kysera(primary_key, generated)]
    id: i64,
    display_name: String,
    bio: Option<String>,
    age: Option<i32>,
}

fn patch(json: &str) -> Result<ProfilePatch, serde_json::Error> {
    serde_json::from_str(json)
}

#[test]
fn a_patch_tells_absent_from_null() {
    let empty = patch("{}").unwrap();
    assert_eq!(empty, ProfilePatch::default());

    let cleared = patch(r#"{"bio": null}"#).unwrap();
    assert_eq!(cleared.bio, Some(None));
    assert_eq!(cleared.age, None);
    assert_eq!(cleared.display_name, None);

    let set = patch(r#"{"bio": "hi", "age": 41, "displayName": "Ada"}"#).unwrap();
    assert_eq!(set.bio, Some(Some("hi".to_string())));
    assert_eq!(set.age, Some(Some(41)));
    assert_eq!(set.display_name, Some("Ada".to_string()));

    // NULL for a NOT NULL column is an error, not "unchanged".
    let err = patch(r#"{"displayName": null}"#).unwrap_err().to_string();
    assert!(err.contains("null"), "{err}");
    // The user's own attributes apply: camelCase names, unknown fields refused.
    let err = patch(r#"{"display_name": "Ada"}"#).unwrap_err().to_string();
    assert!(err.contains("unknown field"), "{err}");

    // Serialised, unchanged fields are left out and a NULL stays a NULL.
    assert_eq!(serde_json::to_string(&cleared).unwrap(), r#"{"bio":null}"#);
    assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    let back: ProfilePatch = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
    assert_eq!(back, set);
}

#[test]
fn an_insert_struct_reads_a_json_body() {
    let new: NewProfile = serde_json::from_str(r#"{"displayName": "Ada", "bio": null}"#).unwrap();
    assert_eq!(
        new,
        NewProfile {
            display_name: "Ada".into(),
            bio: None,
            age: None,
        }
    );
    let err = serde_json::from_str::<NewProfile>(r#"{"bio": "x"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("displayName"), "{err}");
}

async fn table(db: &Executor) {
    let (id, text) = match db.dialect() {
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT"),
        Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(200)"),
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_profiles (id {id}, display_name {text} NOT NULL, bio {text}, age INTEGER)"
            )),
            vec![],
        )
        .await
        .unwrap();
}

#[kysera::test(databases = "all")]
async fn json_patches_write_what_they_say(db: Executor) {
    table(&db).await;
    let profiles = Profile::repo(&db);
    let new: NewProfile =
        serde_json::from_str(r#"{"displayName": "Ada", "bio": "maths", "age": 36}"#).unwrap();
    let ada = profiles.create(new).await.unwrap();

    // An absent field is left alone; `null` writes NULL.
    profiles
        .update(ada.id, patch(r#"{"bio": null}"#).unwrap())
        .await
        .unwrap();
    let row = profiles.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.display_name.as_str(), row.bio.as_deref(), row.age),
        ("Ada", None, Some(36))
    );

    profiles
        .update(
            ada.id,
            patch(r#"{"age": 37, "displayName": "Ada L."}"#).unwrap(),
        )
        .await
        .unwrap();
    let row = profiles.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.display_name.as_str(), row.bio.as_deref(), row.age),
        ("Ada L.", None, Some(37))
    );

    // A page of a `Serialize` model is JSON a handler can return.
    let page = profiles.find().page(1, 10).await.unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["items"][0]["display_name"], "Ada L.");
    assert_eq!(json["items"][0]["bio"], serde_json::Value::Null);
}

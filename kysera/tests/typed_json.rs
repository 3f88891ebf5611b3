//! Typed JSON fields (`kysera::types::Json<T>`) on all three databases: a struct and a list
//! round-trip through create, find, update and `create_many`, `Option<Json<T>>` takes NULL, an
//! audit entry keeps the document, and a stored document that is not a `T` is a decode error
//! naming the column.
#![cfg(feature = "testing")]

use std::sync::Arc;

use kysera::audit::Audit;
use kysera::sqlx::AssertSqlSafe;
use kysera::types::Json;
use kysera::{Dialect, Error, Executor, Repository};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    theme: String,
    font_size: u8,
    beta: bool,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_prefs")]
#[audit]
struct Prefs {
    #[kysera(primary_key, generated)]
    id: i64,
    settings: Json<Settings>,
    tags: Option<Json<Vec<String>>>,
}

async fn table(db: &Executor) {
    let (id, json) = match db.dialect() {
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "JSONB"),
        Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "JSON"),
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_prefs (id {id}, settings {json} NOT NULL, tags {json})"
            )),
            vec![],
        )
        .await
        .unwrap();
    Audit::new().install(db).await.unwrap();
}

fn settings(theme: &str) -> Json<Settings> {
    Json(Settings {
        theme: theme.into(),
        font_size: 14,
        beta: false,
    })
}

#[kysera::test(databases = "all")]
async fn typed_json_round_trips(db: Executor) {
    table(&db).await;
    let db = db.with_plugins(vec![Arc::new(Audit::new())]).unwrap();
    let prefs = Prefs::repo(&db);
    let made = prefs
        .create_many(vec![
            NewPrefs {
                settings: settings("dark"),
                tags: Some(Json(vec!["a".into(), "b \"quoted\"".into()])),
            },
            NewPrefs {
                settings: settings("light"),
                tags: None,
            },
        ])
        .await
        .unwrap();
    let dark = prefs.find_by_id(made[0].id).await.unwrap().unwrap();
    assert_eq!(dark.settings.0.theme, "dark");
    assert_eq!(
        dark.tags.as_ref().unwrap().0,
        ["a".to_string(), "b \"quoted\"".to_string()]
    );
    assert_eq!(
        prefs.find_by_id(made[1].id).await.unwrap().unwrap().tags,
        None
    );

    let mut bigger = dark.settings.0.clone();
    bigger.font_size = 20;
    bigger.beta = true;
    let updated = prefs
        .update(
            dark.id,
            PrefsPatch::default()
                .settings(Json(bigger.clone()))
                .tags(None::<Json<Vec<String>>>),
        )
        .await
        .unwrap();
    assert_eq!((&updated.settings.0, &updated.tags), (&bigger, &None));
    assert_eq!(prefs.find_by_id(dark.id).await.unwrap().unwrap(), updated);

    // The audit entry holds the document itself, not its text.
    let history = prefs.audit_history(dark.id).await.unwrap();
    let change = history.iter().find(|r| r.operation == "update").unwrap();
    let new = change.new_values.as_ref().unwrap();
    assert_eq!(new["settings"]["font_size"], 20);

    // A stored document of another shape: a decode error naming the column.
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "UPDATE k_prefs SET settings = '{{\"theme\": 3}}' WHERE id = {}",
                made[1].id
            )),
            vec![],
        )
        .await
        .unwrap();
    let err = prefs.find_by_id(made[1].id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { column, .. } if column == "settings"),
        "{err:?}"
    );
}

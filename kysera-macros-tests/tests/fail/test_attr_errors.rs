// #[kysera::test]: every mistake on its own token, with a help line.
#[kysera::test(databases = "oracle")]
async fn unknown_database(db: kysera::Executor) {
    let _ = db;
}

#[kysera::test(timeout = 5)]
async fn unknown_option(db: kysera::Executor) {
    let _ = db;
}

#[kysera::test]
fn not_async(db: kysera::Executor) {
    let _ = db;
}

#[kysera::test]
async fn no_database() {}

fn main() {}

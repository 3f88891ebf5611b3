// The behaviour marker traits are sealed: implementing one by hand cannot unlock
// `soft_delete()` (or `touch`, or the audit methods) on a model that does not declare it.
#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
}

impl kysera::SoftDeleteModel for User {}
impl kysera::HasUpdatedAt for User {}
impl kysera::AuditedModel for User {}

fn main() {}

#[derive(kysera::Repository)]
#[rls(tenant = "tenant")]
struct Misspelled {
    id: i64,
    tenant_id: String,
}

#[derive(kysera::Repository)]
#[rls(tenant = "tenant_id")]
struct Optional {
    id: i64,
    tenant_id: Option<String>,
}

#[derive(kysera::Repository)]
#[rls]
struct Unnamed {
    id: i64,
    tenant_id: String,
}

#[derive(kysera::Repository)]
#[rls(tenant = "tenant_id")]
struct Unsupported {
    id: i64,
    tenant_id: u64,
}

fn main() {}

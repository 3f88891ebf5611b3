// What a model adds to its generated structs: a derive of a trait the derive already writes
// for them, an attribute that is not one, and an unknown key — each reported on its own token.
use kysera::Repository;

#[derive(Repository)]
#[kysera(new(derive(Clone, serde::Deserialize)), patch(derive(std::default::Default), attr("x")))]
struct User {
    #[kysera(primary_key, generated)]
    id: i64,
    name: String,
}

#[derive(Repository)]
#[kysera(new(derives(Clone)))]
struct Team {
    #[kysera(primary_key, generated)]
    id: i64,
}

#[derive(Repository)]
#[kysera(patch(attr(derive(serde::Deserialize))))]
struct Tag {
    #[kysera(primary_key, generated)]
    id: i64,
    name: String,
}

fn main() {}

//! Prints arena's replication schema as JSON and as the Markdown tables PROTOCOL.md would
//! include, with its hash (what `tickwire schema` will print).
//!
//! `cargo run -p tickwire-arena --example arena_schema`

use tickwire_arena::schema::arena_schema;

fn main() {
    let schema = arena_schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(json) => println!("{json}\n"),
        Err(e) => eprintln!("cannot serialise the schema: {e}"),
    }
    print!("{}", schema.markdown());
}

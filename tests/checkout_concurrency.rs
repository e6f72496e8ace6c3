//! Many simultaneous checkouts of a scarce product: stock is never
//! oversold, and the orders stored are exactly the successful answers.

mod common;

use common::{GOOD_CARD, Mesh, checkout_body};

/// LMP-006 (desk lamp) is seeded with 3 in stock.
const SCARCE_SKU: &str = "LMP-006";
const SCARCE_STOCK: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_never_oversell_and_every_success_is_stored() {
    let mut mesh = Mesh::start().await;
    let client = reqwest::Client::new();
    let users = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"];

    let attempts = 40;
    let mut tasks = Vec::new();
    for i in 0..attempts {
        let body = checkout_body(users[i % users.len()], SCARCE_SKU, 1, GOOD_CARD);
        let (client, url) = (client.clone(), mesh.url("/api/checkout"));
        tasks.push(tokio::spawn(async move {
            let response = client.post(url).json(&body).send().await.expect("answer");
            let status = response.status().as_u16();
            let json: serde_json::Value = response.json().await.expect("a JSON body");
            (status, json)
        }));
    }
    let mut created = Vec::new();
    let mut out_of_stock = 0;
    for task in tasks {
        let (status, json) = task.await.unwrap();
        match status {
            201 => created.push(json["id"].as_str().expect("order id").to_owned()),
            409 => {
                assert_eq!(json["error"]["code"], "out_of_stock");
                out_of_stock += 1;
            }
            other => panic!("unexpected {other}: {json}"),
        }
    }
    assert_eq!(created.len(), SCARCE_STOCK, "exactly the stock is sold");
    assert_eq!(out_of_stock, attempts - SCARCE_STOCK);

    // The catalog shows none left, and each acknowledged order can be read back.
    let products: serde_json::Value = client
        .get(mesh.url("/api/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lamp = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == SCARCE_SKU)
        .expect("the lamp is listed");
    assert_eq!(lamp["stock"], 0);
    for id in &created {
        let response = client
            .get(mesh.url(&format!("/api/orders/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "order {id} is stored");
    }

    // Stop the mesh, then count the rows in the order service's real SQLite file.
    assert!(mesh.stop().await, "every service stops cleanly");
    let db = rusqlite::Connection::open(mesh.data_dir.path().join("order.db")).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored as usize,
        created.len(),
        "orders stored = successful responses"
    );
    let card_rows: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM orders WHERE card_last4 <> '4242'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(card_rows, 0, "only the last four digits are kept");
}

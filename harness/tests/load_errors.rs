//! A load run that cannot run says why, before sending any load: the
//! gateway it could not reach (with the URL), the setting that is wrong,
//! the report it cannot write.

mod load_support;

use std::time::Duration;

use load_support::{FixtureGateway, ONE_RUN_AT_A_TIME};
use tracemesh_harness::load::{LoadError, LoadPlan, run_load};

/// A loopback URL where nothing listens: bind port 0, then let it go.
async fn nothing_listening() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn an_unreachable_gateway_fails_fast_naming_its_url() {
    let gateway = nothing_listening().await;
    let folder = tempfile::tempdir().unwrap();
    let report = folder.path().join("goose.html");
    let mut plan = load_support::plan(&gateway);
    plan.goose_reports = vec![report.clone()];

    let error = run_load(&plan, |_| {}).await.unwrap_err();

    match &error {
        LoadError::GatewayUnreachable { url, .. } => {
            assert_eq!(url, &format!("{gateway}/healthz"));
        }
        other => panic!("expected GatewayUnreachable, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&gateway), "{message}");
    // Failed before goose started: it would have created the report.
    assert!(!report.exists());
}

#[tokio::test]
async fn a_server_without_the_gateways_health_route_is_not_taken_for_the_gateway() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new()).await.unwrap() });

    let error = run_load(&load_support::plan(&url), |_| {})
        .await
        .unwrap_err();

    match error {
        LoadError::GatewayUnreachable { url: at, reason } => {
            assert_eq!(at, format!("{url}/healthz"));
            assert!(reason.contains("404"), "{reason}");
        }
        other => panic!("expected GatewayUnreachable, got {other:?}"),
    }
}

/// Makes one setting of a good plan invalid.
type Spoil = fn(&mut LoadPlan);

#[tokio::test]
async fn each_invalid_setting_is_named_before_the_gateway_is_even_tried() {
    // Nothing listens there: a setting that slipped through validation
    // would show up as GatewayUnreachable instead.
    let gateway = nothing_listening().await;
    let cases: [(&str, Spoil); 8] = [
        ("gateway", |p| p.gateway = "not a url".into()),
        ("gateway", |p| p.gateway = "localhost:8080".into()),
        ("users", |p| p.users = 0),
        ("increase_rate", |p| p.increase_rate = 0.0),
        ("run_time", |p| p.run_time = Duration::ZERO),
        ("rootless_share", |p| p.rootless_share = 1.5),
        ("parented_sampled_share", |p| {
            p.parented_sampled_share = -0.1
        }),
        ("think_time_min", |p| {
            p.think_time_min = Duration::from_secs(2);
            p.think_time_max = Duration::from_secs(1);
        }),
    ];
    for (option, spoil) in cases {
        let mut plan = load_support::plan(&gateway);
        spoil(&mut plan);
        match run_load(&plan, |_| {}).await {
            Err(LoadError::Config { option: named, .. }) => assert_eq!(named, option),
            other => panic!("{option}: expected a Config error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_folder_that_cannot_be_created_is_named() {
    let gateway = FixtureGateway::start().await;
    let folder = tempfile::tempdir().unwrap();
    // A file where the report's folder should be.
    let blocker = folder.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let report = blocker.join("goose.html");
    let mut plan = load_support::plan(&gateway.url);
    plan.goose_reports = vec![report.clone()];

    match run_load(&plan, |_| {}).await {
        Err(LoadError::ReportFile { path, .. }) => assert_eq!(path, report),
        other => panic!("expected a ReportFile error, got {other:?}"),
    }
    assert!(gateway.received().is_empty(), "load was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_goose_cannot_write_fails_before_any_load_naming_the_file() {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let gateway = FixtureGateway::start().await;
    let folder = tempfile::tempdir().unwrap();
    let report = folder.path().join("goose.txt");
    let mut plan = load_support::plan(&gateway.url);
    plan.goose_reports = vec![folder.path().join("goose.html"), report.clone()];

    let error = run_load(&plan, |_| {}).await.unwrap_err();

    match &error {
        // Goose's own check, turned into our error with its reason.
        LoadError::ReportFile { path, reason } => {
            assert_eq!(path, &report);
            assert!(reason.contains("txt"), "{reason}");
        }
        other => panic!("expected a ReportFile error, got {other:?}"),
    }
    assert!(error.to_string().contains("goose.txt"), "{error}");
    assert!(gateway.received().is_empty(), "load was sent");
}

//! Generated gRPC code for the mesh's three gRPC services.
//!
//! The `.proto` files live in `proto/proto/tracemesh/<service>/v1/`; `build.rs`
//! compiles them with protox and tonic-prost-build. Each module below is one
//! protobuf package, e.g. [`inventory::v1`] is `tracemesh.inventory.v1`.

pub mod user {
    pub mod v1 {
        tonic::include_proto!("tracemesh.user.v1");
    }
}

pub mod inventory {
    pub mod v1 {
        tonic::include_proto!("tracemesh.inventory.v1");
    }
}

pub mod order {
    pub mod v1 {
        tonic::include_proto!("tracemesh.order.v1");
    }
}

//! Compiles the .proto files with protox (a protobuf compiler written in Rust),
//! so that building tracemesh never needs `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/tracemesh/user/v1/user.proto",
        "proto/tracemesh/inventory/v1/inventory.proto",
        "proto/tracemesh/order/v1/order.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}

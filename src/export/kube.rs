//! `mlenv export kube`: a Pod (interactive) or a Job (batch) reproducing the environment,
//! with the Secret and the claims it needs, as one multi-document YAML file.
//!
//! * the env file's values live in a Secret only (`data`, base64); the containers take
//!   them with `envFrom`, so no value is in a Pod spec;
//! * GPUs are extended-resource limits, one per CDI kind (`nvidia.com/gpu: 2`);
//! * the project is mounted at its own path (a claim, or a hostPath), the working dir;
//! * the installed packages live in their own volume at the same user base as `up`'s, and
//!   an init container installs the requirements there with `up`'s key and record;
//! * the containers run as the caller's uid and gid, as keep-id does.

use serde_json::{json, Value};

use super::{cpu_quantity, install_script, memory_quantity, object_name, Environment};
use crate::create::{KEEPALIVE, PYTHON_DIR};
use crate::limits::{Ipc, DEFAULT_SHM};

/// Where the project and the installed packages live in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    /// Claims: the project's (this existing one, else `<name>-project`, written out) and
    /// `<name>-python` for the packages (written out).
    Claims { project: Option<String> },
    /// hostPath volumes (a single node that has the project): the project folder itself
    /// and this folder for the packages.
    HostPath { python_dir: String },
}

/// The size of each claim mlenv writes out; the user edits it for a large dataset.
pub const CLAIM_SIZE: &str = "10Gi";

/// The manifest: Secret, claims, then the Pod or Job.
pub fn manifest(env: &Environment, storage: &Storage) -> String {
    let name = object_name(&env.container);
    let mut docs: Vec<Value> = Vec::new();
    if !env.env.is_empty() {
        docs.push(secret(env, &name));
    }
    if let Storage::Claims { project } = storage {
        if project.is_none() {
            docs.push(claim(&format!("{name}-project")));
        }
        docs.push(claim(&format!("{name}-python")));
    }
    let pod_spec = pod_spec(env, storage, &name);
    let labels = json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "mlenv",
    });
    let annotations = json!({ "mlenv.io/project": env.project_dir });
    docs.push(match &env.job {
        None => json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": pod_spec,
        }),
        Some(_) => json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": {
                "backoffLimit": 0,
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        }),
    });
    let mut out = header(env, &name);
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml_ng::to_string(d).expect("JSON values serialise as YAML"));
    }
    out
}

fn header(env: &Environment, name: &str) -> String {
    let mut h = format!(
        "# Written by `mlenv export kube` for {}.\n",
        env.project_dir.replace('\n', " ")
    );
    if !env.env.is_empty() {
        h.push_str(&format!(
            "# The Secret {name}-env holds the env file's values: keep this file private.\n"
        ));
    }
    h.push_str("# Apply with: kubectl apply -f THIS-FILE");
    h.push_str(&match env.job {
        None => format!("; then: kubectl exec -it {name} -- bash\n"),
        Some(_) => format!("; follow with: kubectl logs -f job/{name}\n"),
    });
    if !env.ports.is_empty() {
        h.push_str(
            "# hostPort repeats the local port forward; many clusters refuse it: remove it and use\n\
             # `kubectl port-forward` there.\n",
        );
    }
    h
}

fn secret(env: &Environment, name: &str) -> Value {
    let data: serde_json::Map<String, Value> = env
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(base64(v.as_bytes()))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("{name}-env")},
        "type": "Opaque",
        "data": data,
    })
}

/// ReadWriteOnce: every cluster's default storage class offers it, and one Pod at a time
/// uses the environment, as one container does on the workstation.
fn claim(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": CLAIM_SIZE}},
        },
    })
}

fn pod_spec(env: &Environment, storage: &Storage, name: &str) -> Value {
    let env_from =
        (!env.env.is_empty()).then(|| json!([{"secretRef": {"name": format!("{name}-env")}}]));
    let mounts = json!([
        {"name": "project", "mountPath": env.project_dir},
        {"name": "python", "mountPath": PYTHON_DIR},
        {"name": format!("{name}-shm"), "mountPath": "/dev/shm"},
    ]);
    let command = match &env.job {
        // Kubernetes has no ulimits: the job raises its soft limits as far as the node's
        // hard ones allow (NVIDIA's stack of 64 MiB, memlock unlimited), after the image's
        // own shell setup, as every command `up` runs.
        Some(cmd) => json!([
            "sh",
            "-c",
            crate::shell::with_image_setup(&format!("{}\n{cmd}", raise_limits(env)))
        ]),
        None => json!(["/bin/sh", "-c", KEEPALIVE]),
    };
    let mut main = json!({
        "name": "main",
        "image": env.image,
        "command": command,
        "workingDir": env.project_dir,
        "env": vars_value(env),
        "volumeMounts": mounts,
    });
    if let Some(from) = &env_from {
        main["envFrom"] = from.clone();
    }
    if !env.ports.is_empty() {
        main["ports"] = env
            .ports
            .iter()
            .map(|p| {
                // An `auto` port not picked yet: no host port (the cluster has its own).
                let mut port = json!({
                    "containerPort": p.container_port,
                    "protocol": p.protocol.to_ascii_uppercase(),
                });
                if p.host_port != 0 {
                    port["hostPort"] = json!(p.host_port);
                }
                port
            })
            .collect();
    }
    if let Some(r) = resources(env, true) {
        main["resources"] = r;
    }

    let mut spec = json!({
        // OnFailure, as `up`'s own restart policy (on-failure); with Always, podman 4.3's kube
        // play restarts the finished init container and then fails to remove it.
        "restartPolicy": if env.job.is_some() { "Never" } else { "OnFailure" },
        "containers": [main],
        "volumes": volumes(env, storage, name),
    });
    if env.user_mapping {
        spec["securityContext"] = json!({
            "runAsUser": env.uid,
            "runAsGroup": env.gid,
            "fsGroup": env.gid,
        });
    }
    if let Some(req) = &env.requirements {
        let mut init = json!({
            "name": "requirements",
            "image": env.image,
            // `$1` is the image key: the reference here, where the ID is not known until
            // the node pulls it.
            "command": ["sh", "-c", install_script(req), "mlenv-requirements", env.image],
            "workingDir": env.project_dir,
            "env": vars_value(env),
            "volumeMounts": [
                {"name": "project", "mountPath": env.project_dir},
                {"name": "python", "mountPath": PYTHON_DIR},
            ],
        });
        if let Some(from) = &env_from {
            init["envFrom"] = from.clone();
        }
        if let Some(r) = resources(env, false) {
            init["resources"] = r;
        }
        spec["initContainers"] = json!([init]);
    }
    spec
}

fn vars_value(env: &Environment) -> Value {
    env.base_vars()
        .into_iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

/// Requests equal to limits (the Guaranteed class, as a local limit is a hard one); GPUs
/// as extended resources, which Kubernetes takes as limits only.
fn resources(env: &Environment, gpus: bool) -> Option<Value> {
    let mut fixed = serde_json::Map::new();
    if let Some(m) = env.memory {
        fixed.insert("memory".into(), json!(memory_quantity(m)));
    }
    if let Some(c) = env.cpus {
        fixed.insert("cpu".into(), json!(cpu_quantity(c)));
    }
    let mut limits = fixed.clone();
    if gpus {
        for (kind, n) in &env.gpus {
            if *n > 0 {
                limits.insert(kind.clone(), json!(n));
            }
        }
    }
    if limits.is_empty() {
        return None;
    }
    let mut r = json!({ "limits": limits });
    if !fixed.is_empty() {
        r["requests"] = Value::Object(fixed);
    }
    Some(r)
}

/// Shell lines that raise the soft limits a Pod cannot set: those the user set, else
/// NVIDIA's stack and memlock; each as far as the hard limit allows, silently.
fn raise_limits(env: &Environment) -> String {
    let set = |name: &str| env.ulimits.iter().find(|u| u.name == name);
    let mut lines = Vec::new();
    for (name, flag, default) in [("stack", "-s", 65536i64), ("memlock", "-l", -1)] {
        let kib = set(name).map_or(default, |u| if u.soft < 0 { -1 } else { u.soft / 1024 });
        let value = if kib < 0 {
            "unlimited".to_string()
        } else {
            kib.to_string()
        };
        lines.push(format!(
            "ulimit -S {flag} {value} 2>/dev/null || ulimit -S {flag} \"$(ulimit -H {flag})\" 2>/dev/null"
        ));
    }
    lines.join("\n")
}

fn volumes(env: &Environment, storage: &Storage, name: &str) -> Value {
    // Named after the environment: podman kube play makes an emptyDir a named volume of
    // this name, shared by every pod that uses the name. `ipc = "host"` is no hostIPC here
    // (Pod Security's baseline forbids it): a memory-backed /dev/shm without a size limit.
    let shm = match env.ipc {
        Ipc::Host => json!({"name": format!("{name}-shm"), "emptyDir": {"medium": "Memory"}}),
        Ipc::Private => json!({
            "name": format!("{name}-shm"),
            "emptyDir": {
                "medium": "Memory",
                "sizeLimit": memory_quantity(env.shm_size.unwrap_or(DEFAULT_SHM)),
            },
        }),
    };
    match storage {
        Storage::Claims { project } => {
            let claim = project.clone().unwrap_or_else(|| format!("{name}-project"));
            json!([
                {"name": "project", "persistentVolumeClaim": {"claimName": claim}},
                {"name": "python", "persistentVolumeClaim": {"claimName": format!("{name}-python")}},
                shm,
            ])
        }
        Storage::HostPath { python_dir } => json!([
            {"name": "project", "hostPath": {"path": env.project_dir, "type": "Directory"}},
            {"name": "python", "hostPath": {"path": python_dir, "type": "DirectoryOrCreate"}},
            shm,
        ]),
    }
}

/// Standard base64 with padding, as a Secret's `data` wants.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::RequirementsPlan;

    pub fn environment() -> Environment {
        Environment {
            container: "mlenv-proj-0123abcd".into(),
            project_dir: "/home/u/proj".into(),
            image: "nvcr.io/nvidia/pytorch:24.01-py3".into(),
            image_path: Some("/usr/local/bin:/usr/bin:/bin".into()),
            gpus: vec![("nvidia.com/gpu".into(), 2)],
            memory: Some(16 << 30),
            cpus: Some(2.5),
            ports: crate::ports::parse_list(&["8888".into(), "7000:6006/udp".into()]).unwrap(),
            user_mapping: true,
            uid: 1234,
            gid: 567,
            env_file: Some("/home/u/proj/.env".into()),
            env: vec![
                ("API_TOKEN".into(), "s3cr3t-value".into()),
                ("OTHER".into(), "another-secret".into()),
            ],
            requirements: Some(RequirementsPlan {
                image_constraints: true,
                file: "/home/u/proj/requirements.txt".into(),
                inputs: vec!["/home/u/proj/requirements.txt".into()],
            }),
            job: None,
            ipc: crate::limits::Ipc::Private,
            shm_size: None,
            ulimits: Vec::new(),
            home: crate::settings::Home::Host,
        }
    }

    fn docs(text: &str) -> Vec<serde_json::Value> {
        use serde::Deserialize;
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .collect()
    }

    fn claims() -> Storage {
        Storage::Claims { project: None }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
    }

    #[test]
    fn pod_with_claims_has_secret_claims_and_pod_in_order() {
        let d = docs(&manifest(&environment(), &claims()));
        let kinds: Vec<&str> = d.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Secret",
                "PersistentVolumeClaim",
                "PersistentVolumeClaim",
                "Pod"
            ]
        );
        assert_eq!(d[0]["metadata"]["name"], "mlenv-proj-0123abcd-env");
        assert_eq!(d[0]["data"]["API_TOKEN"], base64(b"s3cr3t-value"));
        assert_eq!(d[1]["metadata"]["name"], "mlenv-proj-0123abcd-project");
        assert_eq!(d[1]["spec"]["accessModes"][0], "ReadWriteOnce");
        assert_eq!(d[2]["metadata"]["name"], "mlenv-proj-0123abcd-python");
        let pod = &d[3];
        assert_eq!(pod["metadata"]["name"], "mlenv-proj-0123abcd");
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "OnFailure");
        assert_eq!(spec["securityContext"]["runAsUser"], 1234);
        assert_eq!(spec["securityContext"]["runAsGroup"], 567);
        assert_eq!(spec["securityContext"]["fsGroup"], 567);
        let main = &spec["containers"][0];
        assert_eq!(main["command"][2], KEEPALIVE);
        assert_eq!(main["workingDir"], "/home/u/proj");
        assert_eq!(
            main["envFrom"][0]["secretRef"]["name"],
            "mlenv-proj-0123abcd-env"
        );
        let limits = &main["resources"]["limits"];
        assert_eq!(limits["nvidia.com/gpu"], 2);
        assert_eq!(limits["memory"], "16Gi");
        assert_eq!(limits["cpu"], "2500m");
        assert_eq!(main["resources"]["requests"]["memory"], "16Gi");
        assert!(main["resources"]["requests"]
            .get("nvidia.com/gpu")
            .is_none());
        assert_eq!(main["ports"][0]["containerPort"], 8888);
        assert_eq!(main["ports"][0]["hostPort"], 8888);
        assert_eq!(main["ports"][1]["containerPort"], 6006);
        assert_eq!(main["ports"][1]["hostPort"], 7000);
        assert_eq!(main["ports"][1]["protocol"], "UDP");
        let path = main["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "PATH")
            .unwrap();
        assert_eq!(
            path["value"],
            "/opt/mlenv/python/bin:/usr/local/bin:/usr/bin:/bin"
        );
        let mounts = &main["volumeMounts"];
        assert_eq!(mounts[0]["mountPath"], "/home/u/proj");
        assert_eq!(mounts[1]["mountPath"], PYTHON_DIR);
        let vols = &spec["volumes"];
        assert_eq!(
            vols[0]["persistentVolumeClaim"]["claimName"],
            "mlenv-proj-0123abcd-project"
        );
        let init = &spec["initContainers"][0];
        assert_eq!(init["command"][0], "sh");
        assert_eq!(init["command"][4], "nvcr.io/nvidia/pytorch:24.01-py3");
        assert!(init["command"][2]
            .as_str()
            .unwrap()
            .contains("pip install --user -r /home/u/proj/requirements.txt"));
        assert!(init["resources"]["limits"].get("nvidia.com/gpu").is_none());
    }

    #[test]
    fn no_env_value_outside_the_secret() {
        for job in [None, Some("python train.py".to_string())] {
            let mut env = environment();
            env.job = job;
            for storage in [
                claims(),
                Storage::HostPath {
                    python_dir: "/d".into(),
                },
            ] {
                let text = manifest(&env, &storage);
                let d = docs(&text);
                for doc in d.iter().filter(|d| d["kind"] != "Secret") {
                    let shown = serde_json::to_string(doc).unwrap();
                    for (_, v) in &env.env {
                        assert!(!shown.contains(v.as_str()), "{v} in {shown}");
                        assert!(!shown.contains(&base64(v.as_bytes())), "{shown}");
                    }
                }
                // Nor in plain text anywhere (the Secret holds them base64 only).
                for (_, v) in &env.env {
                    assert!(!text.contains(v.as_str()), "{text}");
                }
            }
        }
    }

    #[test]
    fn job_host_path_and_existing_claim() {
        let mut env = environment();
        env.job = Some("python train.py --epochs 3".into());
        let d = docs(&manifest(
            &env,
            &Storage::HostPath {
                python_dir: "/data/mlenv/x/python/kube".into(),
            },
        ));
        let kinds: Vec<&str> = d.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Secret", "Job"]);
        let job = &d[1];
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["spec"]["backoffLimit"], 0);
        let spec = &job["spec"]["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        let command = spec["containers"][0]["command"].as_array().unwrap();
        assert_eq!(command[..2], [json!("sh"), json!("-c")]);
        let script = command[2].as_str().unwrap();
        // The image's setup, NVIDIA's limits as far as the node allows, then the job.
        assert!(script.starts_with(crate::shell::IMAGE_SETUP), "{script}");
        assert!(script.contains("ulimit -S -s 65536 "), "{script}");
        assert!(script.contains("ulimit -S -l unlimited "), "{script}");
        assert!(script.ends_with("\npython train.py --epochs 3"), "{script}");
        // The default private /dev/shm; ipc = "host" is a memory-backed one without a size
        // limit, never hostIPC (Pod Security's baseline forbids it).
        let shm = |spec: &Value| {
            assert!(spec.get("hostIPC").is_none());
            spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"].as_str().unwrap().ends_with("-shm"))
                .unwrap()["emptyDir"]
                .clone()
        };
        assert_eq!(shm(spec), json!({"medium": "Memory", "sizeLimit": "2Gi"}));
        let mut host_ipc = env.clone();
        host_ipc.ipc = crate::limits::Ipc::Host;
        let host_docs = docs(&manifest(
            &host_ipc,
            &Storage::HostPath {
                python_dir: "/data/mlenv/x/python/kube".into(),
            },
        ));
        assert_eq!(
            shm(&host_docs.last().unwrap()["spec"]["template"]["spec"]),
            json!({"medium": "Memory"})
        );
        assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/home/u/proj");
        assert_eq!(spec["volumes"][0]["hostPath"]["type"], "Directory");
        assert_eq!(
            spec["volumes"][1]["hostPath"]["path"],
            "/data/mlenv/x/python/kube"
        );

        let d = docs(&manifest(
            &environment(),
            &Storage::Claims {
                project: Some("shared-data".into()),
            },
        ));
        let kinds: Vec<&str> = d.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Secret", "PersistentVolumeClaim", "Pod"]);
        assert_eq!(d[1]["metadata"]["name"], "mlenv-proj-0123abcd-python");
        assert_eq!(
            d[2]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "shared-data"
        );
    }

    #[test]
    fn bare_environment_has_no_secret_limits_ports_user_or_init() {
        let mut env = environment();
        env.env.clear();
        env.env_file = None;
        env.gpus.clear();
        env.memory = None;
        env.cpus = None;
        env.ports.clear();
        env.user_mapping = false;
        env.requirements = None;
        env.image_path = None;
        let text = manifest(&env, &claims());
        let d = docs(&text);
        let pod = d.last().unwrap();
        let spec = &pod["spec"];
        assert!(spec.get("securityContext").is_none());
        assert!(spec.get("initContainers").is_none());
        let main = &spec["containers"][0];
        for key in ["resources", "ports", "envFrom"] {
            assert!(main.get(key).is_none(), "{key}: {text}");
        }
        assert!(!text.contains("kind: Secret") && !text.contains("hostPort"));
        assert!(!main["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "PATH"));
    }
}

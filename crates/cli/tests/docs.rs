//! The deployment examples under `docs/` cannot rot: the README links every one, the Kubernetes
//! YAML parses, and the command lines in it run with the real binary — the Indexed Job's probe
//! for every index against the lab, the edge Deployment against Debian's PostgreSQL set up as
//! the StatefulSet and its Secret say.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::cli::originlens;
use common::curl::Curl;
use common::edge::{export, EdgeProc};
use common::lab::lab_proc;
use common::postgres::Postgres;
use yaml_rust2::{Yaml, YamlLoader};

const CURL: Curl = Curl { max_time: "10" };

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every document of a multi-document YAML file under `docs/`.
fn yaml(rel: &str) -> Vec<Yaml> {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The one document of `kind` (and `name`, when given).
fn object<'a>(docs: &'a [Yaml], kind: &str, name: Option<&str>) -> &'a Yaml {
    let found: Vec<&Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .filter(|d| name.is_none() || d["metadata"]["name"].as_str() == name)
        .collect();
    assert_eq!(found.len(), 1, "want one {kind} {name:?}");
    found[0]
}

fn str_of<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {y:?}"))
}

fn strings(y: &Yaml, what: &str) -> Vec<String> {
    y.as_vec()
        .unwrap_or_else(|| panic!("{what} is not a list: {y:?}"))
        .iter()
        .map(|v| match v {
            Yaml::String(s) => s.clone(),
            Yaml::Integer(i) => i.to_string(),
            other => panic!("{what}: {other:?} is not a string"),
        })
        .collect()
}

/// The value after `flag` in `args`.
fn after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    args.get(i + 1)
        .unwrap_or_else(|| panic!("{flag} without a value"))
}

#[test]
fn the_readme_links_every_doc() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut stack = vec![repo().join("docs")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(repo()).unwrap().display().to_string();
            assert!(
                readme.contains(&format!("]({rel})")),
                "README.md has no link to {rel}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "docs/ has {seen} files");
}

/// The Indexed Job: its ConfigMap's targets parse, `--shards` is the number of completions, the
/// targets file is the mounted ConfigMap key, and the container's command line, run once per
/// index with the JOB_COMPLETION_INDEX Kubernetes sets, covers a targets file exactly once.
#[test]
fn the_indexed_job_covers_its_targets_once_across_its_indexes() {
    let docs = yaml("docs/kubernetes/probe-indexed-job.yaml");
    let config = object(&docs, "ConfigMap", None);
    let job = object(&docs, "Job", None);
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().expect("spec.completions") as usize;
    assert_eq!(spec["parallelism"].as_i64(), Some(completions as i64));
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        strings(&container["command"], "command"),
        ["originlens"],
        "the container runs the binary"
    );
    let args = strings(&container["args"], "args");
    assert_eq!(args[0], "probe");
    assert_eq!(after(&args, "--shards"), completions.to_string());

    // --targets names the ConfigMap key at the volume's mount path.
    let targets = Path::new(after(&args, "--targets"));
    let mount = &container["volumeMounts"][0];
    assert_eq!(
        targets.parent().unwrap(),
        Path::new(str_of(&mount["mountPath"], "mountPath"))
    );
    let volume = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(volume["configMap"]["name"], config["metadata"]["name"]);
    let key = targets.file_name().unwrap().to_str().unwrap();
    let list = str_of(&config["data"][key], "the targets list");
    let parsed = originlens_fleet::batch::parse_targets(list, key)
        .unwrap_or_else(|e| panic!("the ConfigMap's targets: {e}"));
    assert!(parsed.len() >= completions, "{} targets", parsed.len());

    // The same command line on this machine: the list's shape (same count) with lab targets,
    // since the example's addresses are not ours to probe.
    let (_lab, lab) = lab_proc();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join(key);
    let text: String = (0..parsed.len())
        .map(|k| format!("http://site{k}.test/ok {lab}\n"))
        .collect();
    std::fs::write(&local, text).unwrap();
    let local_args: Vec<String> = args
        .iter()
        .map(|a| {
            if Path::new(a) == targets {
                local.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut covered = Vec::new();
    for index in 0..completions {
        let out = originlens()
            .args(&local_args)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "index {index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            covered.push(doc["batch"]["line"].as_u64().unwrap());
        }
    }
    covered.sort();
    assert_eq!(
        covered,
        (1..=parsed.len() as u64).collect::<Vec<_>>(),
        "every target once across the indexes"
    );
}

/// Resolves Kubernetes' `$(NAME)` in `arg` from the container's env (values or Secret keys).
fn expand(arg: &str, env: &[(String, String)]) -> String {
    env.iter()
        .fold(arg.to_owned(), |a, (k, v)| a.replace(&format!("$({k})"), v))
}

/// The container's environment: plain values and `secretKeyRef`s into `secret`.
fn env_of(container: &Yaml, secret: &Yaml) -> Vec<(String, String)> {
    let secret_name = secret["metadata"]["name"].as_str().unwrap();
    container["env"]
        .as_vec()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let name = str_of(&e["name"], "env name").to_owned();
            let value = match e["value"].as_str() {
                Some(v) => v.to_owned(),
                None => {
                    let r = &e["valueFrom"]["secretKeyRef"];
                    assert_eq!(r["name"].as_str(), Some(secret_name), "{name}");
                    let key = str_of(&r["key"], "secret key");
                    str_of(&secret["stringData"][key], key).to_owned()
                }
            };
            (name, value)
        })
        .collect()
}

/// The edge Deployment next to PostgreSQL: the Secret's store URL names the Service, port, user
/// and database the StatefulSet creates, the probes ask the admin port's /healthz, and the
/// container's command line (with `$(ORIGINLENS_STORE)` expanded from the Secret) runs: an edge
/// writing its incidents to Debian's PostgreSQL, set up with that user and database.
#[test]
fn the_edge_deployment_writes_to_the_postgres_its_secret_names() {
    let docs = yaml("docs/kubernetes/edge-postgres.yaml");
    let secret = object(&docs, "Secret", None);
    let database = object(&docs, "StatefulSet", None);
    let pg_service = object(&docs, "Service", database["spec"]["serviceName"].as_str());
    let pg_env = env_of(
        &database["spec"]["template"]["spec"]["containers"][0],
        secret,
    );
    let get = |k: &str| {
        pg_env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("the StatefulSet sets no {k}"))
    };
    let (user, password, db) = (
        get("POSTGRES_USER"),
        get("POSTGRES_PASSWORD"),
        get("POSTGRES_DB"),
    );

    let deployment = object(&docs, "Deployment", None);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(strings(&container["command"], "command"), ["originlens"]);
    let env = env_of(container, secret);
    let args: Vec<String> = strings(&container["args"], "args")
        .iter()
        .map(|a| expand(a, &env))
        .collect();
    assert_eq!(args[0], "edge");
    let store = after(&args, "--store").to_owned();
    let service = str_of(&pg_service["metadata"]["name"], "service name");
    let port = pg_service["spec"]["ports"][0]["port"].as_i64().unwrap();
    let in_cluster = format!("postgres://{user}:{password}@{service}:{port}/{db}");
    assert_eq!(
        store, in_cluster,
        "the Secret's URL and the StatefulSet agree"
    );
    let admin_port = after(&args, "--admin")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    for probe in ["readinessProbe", "livenessProbe"] {
        let http = &container[probe]["httpGet"];
        assert_eq!(http["path"].as_str(), Some("/healthz"), "{probe}");
        assert_eq!(
            http["port"].as_i64().map(|p| p.to_string()),
            Some(admin_port.clone())
        );
    }

    // PostgreSQL as the StatefulSet makes it: that user owning that database.
    let pg = Postgres::start();
    pg.create_user_and_database(&user, &db);
    let local_store = format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", pg.port);
    let (_lab, lab) = lab_proc();
    let local_args: Vec<String> = args[1..]
        .iter()
        .map(|a| {
            if *a == store {
                local_store.clone()
            } else if a.starts_with("0.0.0.0:") {
                "127.0.0.1:0".to_owned()
            } else if a.starts_with("http://") {
                format!("http://{lab}")
            } else {
                a.clone()
            }
        })
        .collect();
    let edge = EdgeProc::builder()
        .args(&local_args)
        .capture_stderr()
        .start();
    let healthz = CURL.fetch(&format!("http://{}/healthz", edge.admin), &[]);
    assert_eq!(healthz.status, 200, "{}", edge.stderr_text());
    let seen = CURL.fetch(&format!("http://{}/empty", edge.addr), &[]);
    assert_eq!(seen.status, 520);
    let id = seen
        .header("originlens-incident")
        .expect("an incident id")
        .to_owned();
    CURL.wait_for_written(&edge, 1);
    let stored = export(Path::new(&local_store));
    assert_eq!(
        stored.keys().collect::<BTreeSet<_>>(),
        BTreeSet::from([&id]),
        "the incident is in the database"
    );
}

"""Production-shaped Pod manifests for the fakes, the tests and the benchmarks.

A real API server returns pods far bigger than a hand-written test pod: a
service-mesh sidecar and an init container, env lists, probes, ports,
resources, a projected service-account volume, a dozen labels and
annotations, tolerations, status with conditions and container statuses,
and the managedFields the server adds for every field manager that wrote the
object. About 17-30 KB of JSON each (with a mesh sidecar, managedFields
alone are a third of it), with a long tail of a few hundred KB.

    from prodpod import prod_pod, pod_size
    pod = prod_pod("web-7d9c5b6f8-x2k4p", "ip-10-0-1-23", "shop", size=12000)
    big = prod_pod("etl-0", "ip-10-0-1-23", size=LONG_TAIL)

The result is a dict as the server serves it inside a PodList (no kind or
apiVersion). It is deterministic: the same (name, node, namespace, size,
owner) always give the same pod, uids and all. Standard library only.
"""
import hashlib
import json
import uuid

TYPICAL = 18 * 1024       # a typical production pod with a mesh sidecar
LARGE = 30 * 1024         # long env lists, several sidecars
LONG_TAIL = 300 * 1024    # the one pod in a thousand that carries a big config blob

_CREATED = "2024-05-14T09:21:07Z"
_STARTED = "2024-05-14T09:21:19Z"


def pod_size(pod):
    """Bytes of the pod's compact JSON, as the fake API server writes it."""
    return len(json.dumps(pod, separators=(",", ":")))


def _uid(*parts):
    return str(uuid.UUID(hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]))


def _hex(n, *parts):
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:n]


def _fields(keys):
    """managedFields' fieldsV1 for a set of map keys: {"f:a":{}, ...}."""
    return {"f:" + k: {} for k in keys}


def _env(name, node, count, start=0):
    env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
           {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.namespace"}}},
           {"name": "NODE_NAME", "value": node}] if start == 0 else []
    for i in range(start, start + count):
        env.append({"name": "APP_SETTING_%04d" % i,
                    "value": "%s-%s" % (name.split("-")[0], _hex(24, name, "env", str(i)))})
    return env


def _probe(path, port, delay):
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}, "initialDelaySeconds": delay,
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def _containers(name, node, app, env_count):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/%s:v1.%d.%d" % (app, len(name) % 9, len(app) % 17)
    main = {
        "name": app, "image": image,
        "command": ["/app/server"], "args": ["--config=/etc/app/config.yaml", "--port=8080", "--metrics-port=9090"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": app + "-config"}}, {"secretRef": {"name": app + "-secrets"}}],
        "env": _env(name, node, env_count),
        "resources": {"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True},
                         {"name": "kube-api-access-" + _hex(5, name, "vol"), "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "livenessProbe": _probe("/healthz", 8080, 10), "readinessProbe": _probe("/ready", 8080, 5),
        "startupProbe": _probe("/healthz", 8080, 0),
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 10001},
    }
    proxy = {
        "name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3",
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning",
                 "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
        "env": [{"name": "JWT_POLICY", "value": "third-party-jwt"},
                {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                {"name": "CA_ADDR", "value": "istiod.istio-system.svc:15012"},
                {"name": "INSTANCE_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                {"name": "SERVICE_ACCOUNT", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                       "fieldPath": "spec.serviceAccountName"}}},
                {"name": "ISTIO_META_APP_CONTAINERS", "value": app},
                {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
                {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
                {"name": "ISTIO_META_WORKLOAD_NAME", "value": app},
                {"name": "ISTIO_META_OWNER", "value": "kubernetes://apis/apps/v1/namespaces/x/deployments/" + app},
                {"name": "ISTIO_META_MESH_ID", "value": "cluster.local"},
                {"name": "TRUST_DOMAIN", "value": "cluster.local"}],
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in (
            ("workload-socket", "/var/run/secrets/workload-spiffe-uds"), ("istio-envoy", "/etc/istio/proxy"),
            ("istio-data", "/var/lib/istio/data"), ("istio-podinfo", "/etc/istio/pod"),
            ("istio-token", "/var/run/secrets/tokens"), ("istiod-ca-cert", "/var/run/secrets/istio"))],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                           "periodSeconds": 15, "timeoutSeconds": 3, "failureThreshold": 4, "successThreshold": 1},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": True, "runAsGroup": 1337,
                            "runAsNonRoot": True, "runAsUser": 1337},
    }
    init = {
        "name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.3",
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-x", "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"],
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"],
                                                                                 "drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": False, "runAsGroup": 0,
                            "runAsNonRoot": False, "runAsUser": 0},
    }
    return main, proxy, init


def _volumes(name, app):
    return [
        {"name": "workload-socket", "csi": {"driver": "csi.spiffe.io", "readOnly": True}},
        {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
        {"name": "istio-data", "emptyDir": {}},
        {"name": "istio-podinfo", "downwardAPI": {"defaultMode": 420, "items": [
            {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations"}}]}},
        {"name": "istio-token", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {
            "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}},
        {"name": "istiod-ca-cert", "configMap": {"defaultMode": 420, "name": "istio-ca-root-cert"}},
        {"name": "config", "configMap": {"defaultMode": 420, "name": app + "-config"}},
        {"name": "kube-api-access-" + _hex(5, name, "vol"), "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}},
    ]


def _container_fields(c):
    """fieldsV1 of one container as the kube-controller-manager's apply writes it."""
    f = _fields(k for k in c if k not in ("env", "ports", "resources", "volumeMounts", "name"))
    f[".{}"] = {}
    f["f:name"] = {}
    if "env" in c:
        f["f:env"] = {".": {}}
        for e in c["env"]:
            f["f:env"]['k:{"name":"%s"}' % e["name"]] = {".": {}, "f:name": {},
                                                         ("f:valueFrom" if "valueFrom" in e else "f:value"): {}}
    if "ports" in c:
        f["f:ports"] = {".": {}}
        for p in c["ports"]:
            f["f:ports"]['k:{"containerPort":%d,"protocol":"TCP"}' % p["containerPort"]] = {
                ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}
    if "resources" in c:
        f["f:resources"] = {".": {}, "f:limits": {".": {}, "f:cpu": {}, "f:memory": {}},
                            "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}}
    if "volumeMounts" in c:
        f["f:volumeMounts"] = {".": {}}
        for m in c["volumeMounts"]:
            f["f:volumeMounts"]['k:{"mountPath":"%s"}' % m["mountPath"]] = {".": {}, "f:mountPath": {},
                                                                          "f:name": {}}
    return f


def _managed_fields(pod):
    spec, md = pod["spec"], pod["metadata"]
    ctrl = {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, **_fields(md["labels"])},
                           "f:annotations": {".": {}, **_fields(md["annotations"])},
                           "f:ownerReferences": {".": {}, **{'k:{"uid":"%s"}' % r["uid"]: {}
                                                     for r in md.get("ownerReferences", [])}}},
            "f:spec": {"f:containers": {'k:{"name":"%s"}' % c["name"]: _container_fields(c)
                                        for c in spec["containers"]},
                       "f:initContainers": {'k:{"name":"%s"}' % c["name"]: _container_fields(c)
                                            for c in spec["initContainers"]},
                       **_fields(k for k in spec if k not in ("containers", "initContainers", "nodeName")),
                       "f:volumes": {".": {}, **{'k:{"name":"%s"}' % v["name"]: {".": {}, "f:name": {}}
                                                 for v in spec["volumes"]}}}}
    status = {"f:status": {"f:conditions": {'k:{"type":"%s"}' % c["type"]: {
        ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}
        for c in pod["status"]["conditions"]},
        "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:initContainerStatuses": {},
        "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, 'k:{"ip":"%s"}' % pod["status"]["podIP"]: {
            ".": {}, "f:ip": {}}}, "f:startTime": {}}}
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": _CREATED,
         "fieldsType": "FieldsV1", "fieldsV1": ctrl},
        {"manager": "kube-scheduler", "operation": "Update", "apiVersion": "v1", "time": _CREATED,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {'k:{"type":"PodScheduled"}': {
             ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}}}}},
        {"manager": "pilot-discovery", "operation": "Update", "apiVersion": "v1", "time": _CREATED,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {
             "f:sidecar.istio.io/status": {}}}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": _STARTED,
         "fieldsType": "FieldsV1", "subresource": "status", "fieldsV1": status},
    ]


def _status(pod, phase):
    ok = "True" if phase == "Running" else "False"
    conds = [{"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": _STARTED}
             for t, s in (("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", ok),
                          ("ContainersReady", ok), ("PodScheduled", "True"))]
    ip = "10.0.%d.%d" % (int(_hex(2, pod["metadata"]["name"]), 16) % 64, int(_hex(2, pod["metadata"]["uid"]), 16) + 1)

    def cs(c, init=False):
        done = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _STARTED,
                               "finishedAt": _STARTED, "containerID": "containerd://" + _hex(64, pod["metadata"]["uid"], c["name"])}}
        run = {"running": {"startedAt": _STARTED}}
        return {"name": c["name"], "state": done if init or phase != "Running" else run, "lastState": {},
                "ready": not init and phase == "Running", "restartCount": 0, "image": c["image"],
                "imageID": c["image"].split(":")[0] + "@sha256:" + _hex(64, c["image"]),
                "containerID": "containerd://" + _hex(64, pod["metadata"]["uid"], c["name"]),
                "started": not init and phase == "Running"}

    return {"phase": phase, "conditions": conds, "hostIP": "10.0.1.23", "hostIPs": [{"ip": "10.0.1.23"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": _CREATED, "qosClass": "Burstable",
            "initContainerStatuses": [cs(c, True) for c in pod["spec"]["initContainers"]],
            "containerStatuses": [cs(c) for c in pod["spec"]["containers"]]}


def _build(name, node, namespace, owner_kind, owner_name, phase, env_count):
    app = name.rsplit("-", 2)[0] if owner_kind == "ReplicaSet" and name.count("-") >= 2 else name.rsplit("-", 1)[0]
    owner_name = owner_name or (app + "-" + _hex(9, app, "rs") if owner_kind == "ReplicaSet" else app)
    uid = _uid(namespace, name, node)
    labels = {"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/instance": app + "-prod",
              "app.kubernetes.io/version": "1.4.2", "app.kubernetes.io/component": "backend",
              "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "Helm",
              "helm.sh/chart": app + "-3.2.1", "team": "payments", "tier": "backend",
              "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app,
              "service.istio.io/canonical-revision": "1.4.2"}
    if owner_kind == "ReplicaSet":
        labels["pod-template-hash"] = owner_name.rsplit("-", 1)[-1]
    annotations = {
        "kubectl.kubernetes.io/default-container": app,
        "kubectl.kubernetes.io/restartedAt": "2024-05-14T09:20:55Z",
        "prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus",
        "checksum/config": _hex(64, app, "config"), "checksum/secret": _hex(64, app, "secret"),
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        "istio.io/rev": "default", "sidecar.istio.io/interceptionMode": "REDIRECT",
        "traffic.sidecar.istio.io/excludeInboundPorts": "15020",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "*",
        "sidecar.istio.io/status": json.dumps({"initContainers": ["istio-init"], "containers": ["istio-proxy"],
                                               "volumes": ["workload-socket", "istio-envoy", "istio-data",
                                                           "istio-podinfo", "istio-token", "istiod-ca-cert"],
                                               "imagePullSecrets": None, "revision": "default"},
                                              separators=(",", ":")),
    }
    main, proxy, init = _containers(name, node, app, env_count)
    pod = {
        "metadata": {
            "name": name, "generateName": name.rsplit("-", 1)[0] + "-", "namespace": namespace, "uid": uid,
            "resourceVersion": str(int(_hex(7, uid), 16)), "creationTimestamp": _CREATED,
            "labels": labels, "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1" if owner_kind != "Job" else "batch/v1",
                                 "kind": owner_kind, "name": owner_name, "uid": _uid(namespace, owner_name),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "volumes": _volumes(name, app), "initContainers": [init], "containers": [main, proxy],
            "restartPolicy": "Always" if owner_kind != "Job" else "Never",
            "terminationGracePeriodSeconds": 45, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app, "serviceAccount": app, "nodeName": node,
            "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "imagePullSecrets": [{"name": "ecr-pull"}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}},
                                                    "topologyKey": "kubernetes.io/hostname"}}]}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                           "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": {"app": app}}}],
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}],
            "priorityClassName": "business-critical", "priority": 100000,
            "enableServiceLinks": False, "preemptionPolicy": "PreemptLowerPriority",
        },
    }
    pod["status"] = _status(pod, phase)
    pod["metadata"]["managedFields"] = _managed_fields(pod)
    return pod


def prod_pod(name, node, namespace="default", size=TYPICAL, owner_kind="ReplicaSet", owner_name=None,
             phase="Running"):
    """A production-shaped pod of about size bytes of compact JSON (a little
    over, never under; the smallest is about 17 KB). Its controller is an
    owner_kind (ReplicaSet, StatefulSet, DaemonSet, Job) named owner_name
    (made up from the name when None); terminationGracePeriodSeconds 45. The
    size is reached by the length of the main container's env list (and the
    managedFields entries that list brings), as in real long-tail pods."""
    lo, hi = 0, 8
    pod = _build(name, node, namespace, owner_kind, owner_name, phase, hi)
    while pod_size(pod) < size:
        lo, hi = hi, hi * 2
        pod = _build(name, node, namespace, owner_kind, owner_name, phase, hi)
    # The smallest env count whose pod reaches size (sizes grow with the count).
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pod_size(_build(name, node, namespace, owner_kind, owner_name, phase, mid)) >= size:
            hi = mid
        else:
            lo = mid
    return _build(name, node, namespace, owner_kind, owner_name, phase, hi)

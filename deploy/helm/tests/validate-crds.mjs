// Validates the CRD kinds in rendered manifests (stdin or files) against their schemas:
// kubernetes-validate skips them. Every object of a CRD group must be of a kind this
// knows, or it fails: an unknown kind is not a pass.
//
//   helm template ward deploy/helm/ward -f values.yaml | node deploy/helm/tests/validate-crds.mjs
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

const MODELS = {
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};
// Groups that are Kubernetes' own: kubernetes-validate checks those.
const CORE = /^(v1|apps\/v1|policy\/v1|networking\.k8s\.io\/v1|batch\/v1)$/;

const files = process.argv.slice(2);
const text = files.length ? files.map((f) => readFileSync(f, 'utf8')).join('\n---\n') : readFileSync(0, 'utf8');
let failed = 0;
let checked = 0;
for (const doc of yaml.loadAll(text)) {
  if (!doc) continue;
  if (CORE.test(doc.apiVersion)) continue;
  const key = `${doc.apiVersion}/${doc.kind}`;
  const name = `${doc.kind} ${doc.metadata?.name}`;
  const Model = MODELS[key];
  if (!Model) {
    console.log(`FAIL ${name}: no schema known for ${key}`);
    failed += 1;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`PASS ${name}`);
    checked += 1;
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    failed += 1;
  }
}
console.log(`${checked} CRD objects valid, ${failed} failed`);
process.exit(failed ? 1 : 0);

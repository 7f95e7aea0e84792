// The dashboard page: renders the view model the server sends (src/localmode/dashboard/view.ts) and re-renders on
// every server-sent `snapshot` event. Text always goes in through textContent, never as HTML.
/* global document, Node, EventSource */

const GIB = 1024;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'style') Object.assign(node.style, value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** One colour per pod, stable across GPUs and updates, so a multi-GPU pod reads as one. */
function podColour(pod) {
  let hash = 0;
  for (const ch of pod) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 72%)`;
}

const percent = (share) => `${(share * 100).toFixed(1)}%`;
const podName = (key) => key.slice(key.indexOf('/') + 1);

function figure(label, value, id) {
  return el('div', { class: 'figure', 'data-figure': id }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label));
}

function renderHeadline(h) {
  return [
    figure('nodes', h.nodes, 'nodes'),
    figure('healthy GPUs', h.gpus, 'gpus'),
    figure('pods placed', h.placedPods, 'placed'),
    figure('pods pending', h.pendingPods, 'pending'),
    figure('allocation ratio', percent(h.allocationRatio), 'allocation'),
    figure('fragmentation', percent(h.fragmentation), 'fragmentation'),
    figure('decisions / s', h.decisionsPerSecond.toFixed(1), 'rate'),
    figure('p99 decision latency', h.p99DecisionMs === null ? '–' : `${h.p99DecisionMs.toFixed(1)} ms`, 'p99'),
  ];
}

function block(left, width, label, title, attributes) {
  return el(
    'div',
    {
      class: 'block',
      title,
      style: { left: `${left}%`, width: `${width}%`, ...(attributes.pod ? { background: podColour(attributes.pod) } : {}) },
      ...Object.fromEntries(
        Object.entries(attributes)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => [`data-${k}`, v]),
      ),
    },
    label,
  );
}

function migBar(gpu) {
  const slices = Math.max(gpu.slices, 1);
  const bar = el(
    'div',
    { class: 'bar mig' },
    el(
      'div',
      { class: 'slices' },
      Array.from({ length: slices }, () => el('span')),
    ),
  );
  for (const i of gpu.instances) {
    const label = i.pod ? `${i.profile} ${podName(i.pod)}` : i.profile;
    const title = `${i.profile} at slice ${i.start} (${i.size} of ${gpu.slices}): ${i.pod ?? 'idle'}${i.state === 'creating' ? ', being created' : ''}`;
    bar.append(block((i.start / slices) * 100, (i.size / slices) * 100, label, title, { state: i.state, pod: i.pod, profile: i.profile }));
  }
  return bar;
}

function shareBar(gpu, what, amount, total, unit) {
  const bar = el('div', { class: 'bar thin', 'data-share': what }, el('span', { class: 'axis' }, what));
  let left = 0;
  for (const share of gpu.shares) {
    const width = (amount(share) / total) * 100;
    bar.append(block(left, width, podName(share.pod), `${share.pod}: ${unit(share)}`, { state: 'in-use', pod: share.pod }));
    left += width;
  }
  return bar;
}

function hamiBars(gpu) {
  return el(
    'div',
    { class: 'shares' },
    shareBar(
      gpu,
      'memory',
      (s) => s.memoryMiB,
      gpu.memoryMiB,
      (s) => `${(s.memoryMiB / GIB).toFixed(1)} GiB memory`,
    ),
    shareBar(
      gpu,
      'cores',
      (s) => s.cores,
      gpu.coreUnits,
      (s) => `${s.cores}% of the SMs`,
    ),
  );
}

function renderGpu(gpu) {
  const model = gpu.model.replace(/^NVIDIA[- ]/, '');
  const name = el('div', { class: 'name', title: `${gpu.uuid} · ${gpu.model} · ${Math.round(gpu.memoryMiB / GIB)} GiB · ${percent(gpu.allocated)} allocated` }, `GPU ${gpu.index} · ${model}`);
  return el('div', { class: `gpu ${gpu.healthy ? '' : 'unhealthy'}`, 'data-gpu': gpu.uuid }, name, gpu.kind === 'mig' ? migBar(gpu) : hamiBars(gpu));
}

function renderNode(node) {
  const title = el('h2', {}, node.name, node.mode ? el('span', { class: `badge ${node.mode}` }, node.mode) : '', node.ready ? '' : el('span', { class: 'badge not-ready' }, 'not ready'));
  const body = node.problem ? [el('div', { class: 'problem' }, node.problem)] : node.gpus.map(renderGpu);
  return el('article', { class: 'node', 'data-node': node.name }, title, body);
}

function list(items, render) {
  return items.length === 0 ? [el('li', { class: 'empty' }, 'none')] : items.map(render);
}

function render(view) {
  document.getElementById('headline').replaceChildren(...renderHeadline(view.headline));
  document.getElementById('nodes').replaceChildren(...view.nodes.map(renderNode));
  document.getElementById('pending').replaceChildren(...list(view.pending, (p) => el('li', { 'data-pending': p.pod }, el('span', { class: 'pod' }, p.pod), el('span', { class: 'reason' }, p.reason))));
  document.getElementById('problems').replaceChildren(...list(view.problems, (p) => el('li', { class: 'problem' }, p)));
}

function connect() {
  const status = document.getElementById('connection');
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (event) => {
    status.dataset.state = 'live';
    status.textContent = 'live';
    render(JSON.parse(event.data));
  });
  // EventSource reconnects by itself; say so while it does.
  events.addEventListener('error', () => {
    status.dataset.state = 'lost';
    status.textContent = 'reconnecting…';
  });
}

connect();

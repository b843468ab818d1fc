// The back office page: plain JavaScript over the JSON API next to it (api/…). Amounts arrive in fen and times in
// epoch ms; they are shown here in 元 and China time. Text is always set as text, never parsed as HTML.

const state = { meta: null, me: null, tab: 'approvals' };

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** An element with attributes (`on*` as listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const CHINA_TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** Epoch ms as `2026-11-30 10:00` in China time (Asia/Shanghai), whatever the browser's zone. */
function chinaTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const parts = Object.fromEntries(CHINA_TIME.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** Today in China time, `YYYY-MM-DD`. */
function chinaToday(ms) {
  return chinaTime(ms).slice(0, 10);
}

/** Integer fen as `300,000.00 元`, exactly (no floating point). */
function yuan(fen) {
  if (fen === null || fen === undefined) return '—';
  const negative = fen < 0;
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toLocaleString('zh-CN');
  const cents = String(abs % 100).padStart(2, '0');
  return `${negative ? '-' : ''}${whole}.${cents} 元`;
}

/** How long until `deadline`, from the SDK clock's `now`. */
function remaining(deadline, now) {
  const ms = deadline - now;
  if (ms <= 0) return '已过期';
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  return `剩余 ${hours} 小时 ${minutes} 分`;
}

const label = (table, key) => state.meta?.[table]?.[key] ?? key;
const statusTag = (table, key) => h('span', { class: `status ${key}` }, label(table, key));

function showMessage(text, ok = false) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
  box.hidden = false;
}

function clearMessage() {
  document.getElementById('message').hidden = true;
}

/** Call the API; a problem+json answer becomes an error whose message a person can act on. */
async function api(path, { method = 'GET', body, contentType } = {}) {
  const headers = {};
  let payload;
  if (body instanceof Blob) {
    headers['content-type'] = contentType ?? 'application/pdf';
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(`api/${path}`, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401 && path !== 'login') showLogin();
    const error = new Error(data ? `${data.title}：${data.detail}` : `请求失败（${response.status}）`);
    error.problem = data;
    throw error;
  }
  return data;
}

/** Run an action from a button: its error goes to the message bar instead of being lost. */
function action(run) {
  return async (event) => {
    event?.preventDefault?.();
    clearMessage();
    try {
      await run(event);
    } catch (error) {
      showMessage(error.message);
    }
  };
}

const enc = encodeURIComponent;

const AMOUNT_HEADERS = /(金额|头寸|冻结|保证金|佣金|服务费|得分|弃单率|成功率|响应速度|业务量|投诉率)$/;

function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        // An amount column's header is right-aligned like its cells.
        headers.map((text) => h('th', { class: AMOUNT_HEADERS.test(text) ? 'amount' : undefined }, text)),
      ),
    ),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length }, '暂无数据'))),
  );
}

function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

function show(...children) {
  const view = document.getElementById('view');
  view.replaceChildren(...children);
}

// ---------------------------------------------------------------------------------------------------------------
// Sign-in

function showLogin() {
  document.getElementById('login').hidden = false;
  document.getElementById('tabs').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('operator').textContent = '';
  show();
}

async function start() {
  state.me = await api('me');
  state.meta = await api('meta');
  document.getElementById('login').hidden = true;
  document.getElementById('tabs').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('operator').textContent = `${state.me.name}（${state.me.id}）`;
  await openTab(state.tab);
}

async function openTab(tab) {
  state.tab = tab;
  clearMessage();
  for (const button of document.querySelectorAll('#tabs button')) {
    button.classList.toggle('active', button.dataset.tab === tab);
  }
  await VIEWS[tab]();
}

// ---------------------------------------------------------------------------------------------------------------
// 审批待办

async function approvalsView() {
  const { pending } = await api('approvals');
  const changes = h('div', { id: 'approval-changes' });
  // What the approver is asked to accept: the changes from the version it revises, or the whole new template.
  const showChanges = async (version) => {
    const title = `${version.id} 的变更`;
    if (!version.revisedFrom) {
      const { variables, parties, checks } = version.definition;
      changes.replaceChildren(
        panel(
          title,
          h('p', {}, `新模板：${variables.length} 个变量，${parties.length} 个签署方，${checks.length} 条业务校验。`),
          h('a', { href: `api/template-versions/${enc(version.id)}/pdf`, target: '_blank' }, '查看 PDF'),
        ),
      );
      return;
    }
    const diff = await api(
      `templates/${enc(version.code)}/diff?from=${enc(version.revisedFrom)}&to=${enc(version.id)}`,
    );
    changes.replaceChildren(
      panel(
        `${title}（对比 ${version.revisedFrom}）`,
        diff.changes.length
          ? h(
              'ul',
              {},
              diff.changes.map((change) => h('li', {}, change.summary)),
            )
          : h('p', { class: 'note' }, '定义未变更（可能只更换了 PDF）'),
        h('a', { href: `api/template-versions/${enc(version.id)}/pdf`, target: '_blank' }, '查看 PDF'),
      ),
    );
  };
  const rows = pending.map((version) => {
    const reason = h('input', { name: 'reason', placeholder: '驳回原因', 'aria-label': '驳回原因' });
    const decide = async (outcome) => {
      const body = { level: version.level };
      if (outcome === 'reject') {
        if (!reason.value.trim()) {
          showMessage('请填写驳回原因后再驳回');
          reason.focus();
          return;
        }
        body.reason = reason.value;
      }
      const decided = await api(`approvals/${enc(version.id)}/${outcome}`, { method: 'POST', body });
      await approvalsView();
      showMessage(`${version.id}：${label('templateStatuses', decided.status)}`, true);
    };
    return h(
      'tr',
      { dataset: { versionId: version.id } },
      h('td', {}, version.code),
      h('td', {}, version.definition.name),
      h('td', {}, `v${version.version}`),
      h('td', {}, version.submittedBy ?? '—'),
      h('td', {}, chinaTime(version.submittedAt)),
      h('td', {}, `第 ${version.level} 级`),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', onclick: action(() => showChanges(version)) }, '查看变更'),
        h('button', { type: 'button', onclick: action(() => decide('approve')) }, '通过'),
        reason,
        h('button', { type: 'button', onclick: action(() => decide('reject')) }, '驳回'),
      ),
    );
  });
  show(
    panel(
      '待审批模板',
      table(['模板编号', '模板名称', '版本', '提交人', '提交时间', '审批级', '操作'], rows, { id: 'approvals-table' }),
    ),
    changes,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 模板管理

async function templatesView() {
  const { versions } = await api('templates');
  const byCode = new Map();
  for (const version of versions) {
    const list = byCode.get(version.code) ?? [];
    list.push(version);
    byCode.set(version.code, list);
  }
  const rows = [...byCode.entries()].map(([code, list]) => {
    list.sort((a, b) => b.version - a.version);
    const effective = list.find((v) => v.status === 'EFFECTIVE');
    return h(
      'tr',
      { dataset: { code } },
      h('td', {}, code),
      h('td', {}, list[0].definition.name),
      h('td', {}, `v${list[0].version} `, statusTag('templateStatuses', list[0].status)),
      h('td', {}, effective ? `v${effective.version}` : '—'),
      h('td', {}, chinaTime(list[0].updatedAt)),
      h('td', {}, h('button', { type: 'button', onclick: action(() => templateDetail(code)) }, '详情')),
    );
  });
  const upload = h(
    'form',
    { class: 'inline', id: 'upload-form' },
    h('label', {}, '模板编号', h('input', { name: 'code', placeholder: 'LOAN_V', required: true })),
    h('label', {}, '模板名称（新模板必填）', h('input', { name: 'name' })),
    h('label', {}, '文档类型（新模板必填）', h('input', { name: 'documentType', placeholder: 'LOAN_CONTRACT' })),
    h('label', {}, '模板 PDF', h('input', { name: 'pdf', type: 'file', accept: 'application/pdf', required: true })),
    h('button', { type: 'submit' }, '上传'),
  );
  upload.addEventListener(
    'submit',
    action(async () => {
      const form = new FormData(upload);
      const query = new URLSearchParams();
      for (const key of ['code', 'name', 'documentType']) if (form.get(key)) query.set(key, form.get(key));
      const created = await api(`templates/upload?${query}`, { method: 'POST', body: form.get('pdf') });
      await templateDetail(created.code);
      showMessage(`已上传 ${created.id}（草稿），请核对后提交审批`, true);
    }),
  );
  show(
    panel('模板列表', table(['模板编号', '名称', '最新版本', '生效版本', '更新时间', ''], rows)),
    panel('上传模板 PDF（新模板或新版本）', upload),
  );
}

async function templateDetail(code) {
  const detail = await api(`templates/${enc(code)}`);
  const versionRows = detail.versions.map((v) =>
    h(
      'tr',
      { dataset: { versionId: v.id } },
      h('td', {}, `v${v.version}`),
      h('td', {}, statusTag('templateStatuses', v.status)),
      h('td', {}, v.createdBy),
      h('td', {}, chinaTime(v.createdAt)),
      h('td', {}, v.decision?.reason ?? ''),
      h(
        'td',
        { class: 'actions' },
        h('a', { href: `api/template-versions/${enc(v.id)}/pdf`, target: '_blank' }, '查看 PDF'),
        v.status === 'DRAFT' &&
          h(
            'button',
            {
              type: 'button',
              onclick: action(async () => {
                await api(`template-versions/${enc(v.id)}/submit`, { method: 'POST' });
                await templateDetail(code);
                showMessage(`${v.id} 已提交审批`, true);
              }),
            },
            '提交审批',
          ),
      ),
    ),
  );
  const options = () => detail.versions.map((v) => h('option', { value: v.id }, `v${v.version}`));
  const from = h('select', { name: 'from', 'aria-label': '比较起点' }, options());
  const to = h('select', { name: 'to', 'aria-label': '比较终点' }, options());
  if (detail.versions.length > 1) to.value = detail.versions.at(-1).id;
  const diffOut = h('div', { id: 'diff' });
  const compare = action(async () => {
    const diff = await api(`templates/${enc(code)}/diff?from=${enc(from.value)}&to=${enc(to.value)}`);
    diffOut.replaceChildren(
      diff.changes.length
        ? h(
            'ul',
            {},
            diff.changes.map((change) => h('li', {}, change.summary)),
          )
        : h('p', { class: 'note' }, '两个版本的定义相同'),
    );
  });
  const historyRows = detail.history.map((entry) =>
    h(
      'tr',
      {},
      h('td', {}, chinaTime(entry.at)),
      h('td', {}, `v${entry.version}`),
      h('td', {}, entry.actorId),
      h('td', {}, entry.summary),
      h('td', {}, entry.reason ?? ''),
    ),
  );
  show(
    panel(
      `模板 ${code}：${detail.versions.at(-1).definition.name}`,
      h('p', {}, '生效版本：', detail.effective ? `v${detail.effective.version}` : '无'),
      h('h3', {}, '版本'),
      table(['版本', '状态', '创建人', '创建时间', '驳回原因', ''], versionRows),
      h('h3', {}, '版本比较'),
      h('div', { class: 'filters' }, from, '→', to, h('button', { type: 'button', onclick: compare }, '比较')),
      diffOut,
      h('h3', {}, '变更历史'),
      table(['时间', '版本', '操作人', '内容', '原因'], historyRows),
      h('p', {}, h('button', { type: 'button', onclick: action(templatesView) }, '返回列表')),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 签章记录

async function recordsView(filters = {}) {
  const form = h(
    'form',
    { class: 'filters', id: 'record-filters' },
    h(
      'label',
      {},
      '状态',
      h(
        'select',
        { name: 'status' },
        h('option', { value: '' }, '全部'),
        Object.entries(state.meta.signingStatuses).map(([key, text]) => h('option', { value: key }, text)),
      ),
    ),
    h(
      'label',
      {},
      '场景',
      h(
        'select',
        { name: 'scene' },
        h('option', { value: '' }, '全部'),
        Object.entries(state.meta.scenes).map(([key, text]) => h('option', { value: key }, text)),
      ),
    ),
    h('label', {}, '起始日期', h('input', { name: 'from', type: 'date' })),
    h('label', {}, '截止日期', h('input', { name: 'to', type: 'date' })),
    h('label', {}, '业务编号', h('input', { name: 'businessNo' })),
    h('button', { type: 'submit' }, '查询'),
  );
  for (const [key, value] of Object.entries(filters)) form.elements[key].value = value;
  form.addEventListener(
    'submit',
    action(async () => {
      const chosen = Object.fromEntries([...new FormData(form).entries()].filter(([, value]) => value !== ''));
      await recordsView(chosen);
    }),
  );
  const { records } = await api(`signing-records?${new URLSearchParams(filters)}`);
  const detail = h('div', { id: 'record-detail' });
  const rows = records.map((record) => recordRow(record, detail, filters));
  show(
    panel(
      '签章记录',
      form,
      table(['业务编号', '场景', '状态', '客户', '第几次', '创建时间', '失败原因', '操作'], rows, {
        id: 'records-table',
      }),
    ),
    detail,
  );
}

function recordRow(record, detail, filters) {
  const buttons = [];
  if (record.status === 'COMPLETED' && state.me.canSign) {
    for (const doc of record.signed) {
      const url = `api/signing-records/${enc(record.id)}/documents/${enc(doc.documentKey)}`;
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            onclick: action(() =>
              detail.replaceChildren(
                panel(
                  `预览：${record.businessNo} ${doc.fileName}`,
                  h('iframe', { class: 'preview', src: url, title: `${doc.fileName} 预览` }),
                ),
              ),
            ),
          },
          '预览',
        ),
        h('a', { href: `${url}?download=1`, download: doc.fileName }, '下载'),
      );
    }
  }
  if (record.nextAttemptId) buttons.push(h('span', { class: 'note' }, '已补签 '));
  if (record.status === 'FAILED' && !record.nextAttemptId && state.me.canSign) {
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          onclick: action(async () => {
            const next = await api(`signing-records/${enc(record.id)}/resign`, { method: 'POST' });
            await recordsView(filters);
            showMessage(
              `已发起补签：${next.businessNo} 第 ${next.attempt} 次（${label('signingStatuses', next.status)}）`,
              true,
            );
          }),
        },
        '补签',
      ),
    );
  }
  buttons.push(
    h(
      'button',
      {
        type: 'button',
        onclick: action(async () => {
          const check = await api(`signing-records/${enc(record.id)}/evidence`);
          detail.replaceChildren(evidencePanel(record, check));
        }),
      },
      '验证存证',
    ),
  );
  return h(
    'tr',
    { dataset: { recordId: record.id, businessNo: record.businessNo } },
    h('td', {}, record.businessNo),
    h('td', {}, label('scenes', record.scene)),
    h('td', {}, statusTag('signingStatuses', record.status)),
    h('td', {}, `${record.customer.maskedName} ${record.customer.maskedIdNumber}`),
    h('td', {}, String(record.attempt)),
    h('td', {}, chinaTime(record.createdAt)),
    h('td', {}, record.failure ? record.failure.message : ''),
    h('td', { class: 'actions' }, buttons),
  );
}

const FILE_PROBLEMS = { missing: '文件缺失', corrupted: '文件损坏', replaced: '文件被替换' };

function evidencePanel(record, check) {
  return panel(
    `存证验证：${record.businessNo}`,
    h(
      'p',
      { id: 'evidence-result', class: check.ok ? 'ok-text' : 'bad-text' },
      check.ok ? `验证通过：存证链 ${check.entries} 条记录完整，文件哈希一致` : '验证未通过',
    ),
    check.problems.length
      ? h(
          'ul',
          {},
          check.problems.map((p) => h('li', {}, p)),
        )
      : null,
    table(
      ['文件', '类型', 'SHA-256', '结果'],
      check.files.map((file) =>
        h(
          'tr',
          {},
          h('td', {}, file.documentKey),
          h('td', {}, file.kind === 'signed' ? '已签署' : '渲染稿'),
          h('td', { title: file.expectedSha256 }, `${file.expectedSha256.slice(0, 16)}…`),
          h('td', {}, file.problem ? (FILE_PROBLEMS[file.problem] ?? file.problem) : '一致'),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 派单看板

async function dispatchView() {
  const board = await api('dispatch');
  const ranking = h('div', { id: 'ranking' });
  const names = new Map(board.institutions.map(({ institution }) => [institution.id, institution.name]));
  const numbers = new Map(board.applications.map((a) => [a.applicationId, a.applicationNumber]));
  const applicationRows = board.applications.map((a) =>
    h(
      'tr',
      { dataset: { applicationId: a.applicationId } },
      h('td', {}, a.applicationNumber),
      h('td', {}, `${a.customer.maskedName} ${a.customer.maskedMobile}`),
      h('td', {}, label('products', a.productCode)),
      h('td', { class: 'amount' }, yuan(a.amountFen)),
      h('td', {}, label('applicationStatuses', a.status)),
      h('td', {}, String(a.dispatchRound)),
      h('td', {}, a.institutionId ? (names.get(a.institutionId) ?? a.institutionId) : '—'),
      h(
        'td',
        {},
        h('button', { type: 'button', onclick: action(() => showRanking(a.applicationId, ranking)) }, '查看排序'),
      ),
    ),
  );
  const offerRows = board.offers.map((offer) =>
    h(
      'tr',
      { dataset: { offerId: offer.offerId } },
      h('td', {}, numbers.get(offer.applicationId) ?? offer.applicationId),
      h('td', {}, names.get(offer.institutionId) ?? offer.institutionId),
      h('td', { class: 'amount' }, yuan(offer.amountFen)),
      h('td', {}, statusTag('offerStatuses', offer.status)),
      h('td', {}, chinaTime(offer.offeredAt)),
      h('td', { class: 'deadline' }, chinaTime(offer.deadline)),
      h('td', {}, offer.status === 'open' ? remaining(offer.deadline, board.now) : ''),
    ),
  );
  const positionRows = board.institutions.map(({ institution, balances }) =>
    h(
      'tr',
      { dataset: { institutionId: institution.id } },
      h('td', {}, institution.name),
      h('td', {}, institution.status === 'ACTIVE' ? '正常' : '暂停'),
      h('td', { class: 'amount' }, yuan(balances.deposit)),
      h('td', { class: 'amount' }, yuan(balances.frozen)),
      h('td', { class: 'amount' }, yuan(balances.riskMargin)),
      h('td', {}, `${institution.openCount} / ${institution.capacity}`),
    ),
  );
  show(
    h('p', { class: 'note' }, `系统时间（北京时间）：${chinaTime(board.now)}`),
    panel(
      '进件',
      table(['申请编号', '客户', '产品', '金额', '状态', '派单轮次', '承接机构', ''], applicationRows, {
        id: 'applications-table',
      }),
    ),
    panel(
      '派单与截止时间',
      table(['申请编号', '机构', '金额', '状态', '派单时间', '截止时间', '剩余'], offerRows, { id: 'offers-table' }),
    ),
    panel(
      '机构头寸',
      table(['机构', '状态', '可用头寸', '冻结', '风险保证金', '在办 / 容量'], positionRows, { id: 'positions-table' }),
    ),
    ranking,
  );
}

const TERM_NAMES = {
  abandonment: '弃单率',
  success: '成功率',
  response: '响应速度',
  volume: '业务量',
  amount: '放款金额',
  headroom: '头寸余量',
  complaints: '投诉率',
};

/** Why an institution is left out of a ranking, in the words of RANKING_REJECTION_REASONS. */
const REJECTION_REASONS = {
  NOT_ACTIVE: '机构已暂停',
  EXCLUDED: '已排除（本申请此前已派给该机构）',
  REGION_NOT_SERVED: '不覆盖申请所在地区',
  CATEGORY_NOT_HANDLED: '不经营该业务类型',
  NO_FREE_CAPACITY: '在办申请已达容量',
  POSITION_TOO_LOW: '可用头寸低于申请金额',
};

async function showRanking(applicationId, target) {
  const result = await api(`applications/${enc(applicationId)}/ranking`);
  const terms = Object.keys(TERM_NAMES);
  const rows = result.ranked.map((r) =>
    h(
      'tr',
      { dataset: { institutionId: r.id } },
      h('td', {}, String(r.rank)),
      h('td', {}, r.name),
      h('td', { class: 'amount' }, r.score.toFixed(4)),
      terms.map((term) => {
        const t = r.terms.find((x) => x.term === term);
        return h(
          'td',
          { class: 'amount', title: `权重 ${t.weight}，归一化 ${t.normalised.toFixed(3)}` },
          t.contribution.toFixed(4),
        );
      }),
    ),
  );
  target.replaceChildren(
    panel(
      `机构排序（${result.applicationNumber}，${yuan(result.amountFen)}）`,
      h('p', { class: 'note' }, '得分 = 各项贡献之和；贡献 = 权重占比 × 归一化值。悬停查看权重与归一化值。'),
      table(['名次', '机构', '得分', ...terms.map((t) => TERM_NAMES[t])], rows, { id: 'ranking-table' }),
      result.rejected.length
        ? h(
            'ul',
            {},
            result.rejected.map((r) => h('li', {}, `${r.name}：未入选（${REJECTION_REASONS[r.reason] ?? r.reason}）`)),
          )
        : null,
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 结算、投诉

async function settlementView() {
  const { applications } = await api('settlement');
  const rows = applications.map((a) =>
    h(
      'tr',
      { dataset: { applicationId: a.applicationId } },
      h('td', {}, a.applicationNumber),
      h('td', {}, a.funder?.name ?? a.institutionId ?? '—'),
      h('td', {}, label('applicationStatuses', a.status)),
      h('td', { class: 'amount' }, yuan(a.disbursedFen)),
      h('td', { class: 'amount' }, yuan(a.settlement?.institutionCommissionFen)),
      h('td', { class: 'amount' }, yuan(a.settlement?.customerServiceFeeFen)),
      h('td', { class: 'amount' }, yuan(a.settlement?.commissionFen)),
      h('td', {}, chinaTime(a.paymentConfirmedAt)),
    ),
  );
  show(
    panel(
      '结算',
      table(['申请编号', '资金方', '状态', '放款金额', '机构佣金', '客户服务费', '佣金合计', '收款确认'], rows, {
        id: 'settlement-table',
      }),
    ),
  );
}

const COMPLAINT_STAGES = {
  received: '已登记',
  accepted: '已受理',
  'with-team': '已转内部团队',
  'with-institution': '已转机构',
  reported: '机构已反馈',
  investigating: '调查中',
  deciding: '处理决定中',
  'confirming-penalty': '处罚确认中',
  'awaiting-feedback': '待回复客户',
  closed: '已办结',
  refused: '不予受理',
  suggestion: '建议',
};

async function complaintsView() {
  const { complaints } = await api('complaints');
  const rows = complaints.map((c) =>
    h(
      'tr',
      { dataset: { complaintNo: c.complaintNo } },
      h('td', {}, c.complaintNo),
      h('td', {}, c.subject),
      h('td', {}, `${c.contact.name} ${c.contact.mobile}`),
      h('td', {}, COMPLAINT_STAGES[c.stage] ?? c.stage),
      h('td', {}, c.routedInstitutionId ?? c.institutionId ?? '—'),
      h('td', {}, chinaTime(c.receivedAt)),
      h('td', {}, c.reportOverdue ? '是' : ''),
    ),
  );
  show(
    panel(
      '投诉',
      table(['投诉编号', '主题', '联系人', '阶段', '机构', '受理时间', '反馈逾期'], rows, { id: 'complaints-table' }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 报表

async function reportsView() {
  const today = chinaToday(state.meta.now);
  const monthStart = `${today.slice(0, 8)}01`;
  const link = h('a', { id: 'report-download', class: 'button' }, '下载业务统计报表');
  const form = h(
    'form',
    { class: 'filters' },
    h('label', {}, '起始日期', h('input', { name: 'from', type: 'date', value: monthStart })),
    h('label', {}, '截止日期', h('input', { name: 'to', type: 'date', value: today })),
    h(
      'label',
      {},
      '分组',
      h(
        'select',
        { name: 'groupBy' },
        h('option', { value: 'product' }, '按产品'),
        h('option', { value: 'status' }, '按状态'),
        h('option', { value: 'customerManager' }, '按客户经理'),
        h('option', { value: 'period' }, '按日期'),
      ),
    ),
    h(
      'label',
      {},
      '格式',
      h('select', { name: 'format' }, h('option', { value: 'xlsx' }, 'Excel'), h('option', { value: 'pdf' }, 'PDF')),
    ),
  );
  const update = () => {
    const query = new URLSearchParams(new FormData(form));
    link.href = `api/reports/statistics?${query}`;
    link.setAttribute('download', `业务统计_${query.get('from')}_${query.get('to')}.${query.get('format')}`);
  };
  form.addEventListener('change', update);
  update();
  show(panel('业务统计报表', form, link));
}

const VIEWS = {
  approvals: approvalsView,
  templates: templatesView,
  records: () => recordsView(),
  dispatch: dispatchView,
  settlement: settlementView,
  complaints: complaintsView,
  reports: reportsView,
};

// ---------------------------------------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  const loginForm = document.getElementById('login-form');
  loginForm.addEventListener(
    'submit',
    action(async () => {
      const form = new FormData(loginForm);
      await api('login', {
        method: 'POST',
        body: { operatorId: form.get('operatorId'), password: form.get('password') },
      });
      loginForm.reset();
      await start();
    }),
  );
  document.getElementById('logout').addEventListener(
    'click',
    action(async () => {
      await api('logout', { method: 'POST' });
      showLogin();
    }),
  );
  for (const button of document.querySelectorAll('#tabs button')) {
    button.addEventListener(
      'click',
      action(() => openTab(button.dataset.tab)),
    );
  }
  // Already signed in (the cookie is still valid): go straight in.
  start().catch(showLogin);
});

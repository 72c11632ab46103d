// Text an analyst reads at a glance: short principals and titles, runbooks as their steps.
// Short names: An IAM ARN says the account twice over and hides
// the name at its end; the queue shows "user/alice" or "role/ci-deploy" instead (an assumed-
// role session as its role), with the full ARN kept for hover and the detail panel. Google
// Cloud principals are e-mails already and stay as they are. Pure functions over strings,
// so node can run them in the tests.

const IAM_ARN = /^arn:aws[\w-]*:(?:iam|sts)::\d{12}:(.+)$/;
const ARN_IN_TEXT = /arn:aws[\w-]*:(?:iam|sts)::\d{12}:[\w+=.@/-]+/g;

/** "user/alice" for arn:aws:iam::123456789012:user/ops/alice; other text unchanged. */
export function shortPrincipal(principal) {
  if (typeof principal !== "string" || !principal) return "";
  const arn = IAM_ARN.exec(principal);
  if (!arn) return principal;
  const rest = arn[1];
  if (rest === "root") return "root";
  const session = /^assumed-role\/([^/]+)\/.+$/.exec(rest);
  if (session) return `role/${session[1]}`;
  const named = /^(user|role|group|federated-user)\/(?:.*\/)?([^/]+)$/.exec(rest);
  if (named) return `${named[1]}/${named[2]}`;
  return rest;
}

/** The title with every IAM/STS principal ARN in it shortened. */
export function shortTitle(title) {
  if (typeof title !== "string") return "";
  return title.replace(ARN_IN_TEXT, (arn) => shortPrincipal(arn));
}

/**
 * A runbook as blocks: runs of numbered steps ("1. ...", "2) ...", an indented line carrying
 * on the step above) become {steps, start}; other lines become {text} paragraphs. The pack
 * writes runbooks as YAML block text, so the line breaks are the structure.
 */
export function runbookBlocks(text) {
  if (typeof text !== "string") return [];
  const blocks = [];
  let list = null;
  let para = null;
  for (const line of text.split(/\r?\n/)) {
    const step = /^\s*(\d+)[.)]\s+(.*)$/.exec(line);
    if (step) {
      if (!list) {
        list = { steps: [], start: Number(step[1]) };
        blocks.push(list);
      }
      list.steps.push(step[2].trim());
      para = null;
    } else if (!line.trim()) {
      para = null;
    } else if (list && /^\s/.test(line) && list.steps.length) {
      list.steps[list.steps.length - 1] += ` ${line.trim()}`;
    } else {
      list = null;
      if (para) para.text += `\n${line.trim()}`;
      else {
        para = { text: line.trim() };
        blocks.push(para);
      }
    }
  }
  return blocks;
}

// caps: calls every weft:app capability once and prints one line per call to
// stdout, `<call>: ok <detail>` or `<call>: err <message>`, in this order:
//   fetch, notifications.notify, clipboard.read, clipboard.write
// then calls notify.ready() and returns (exit 0). With no capabilities
// granted every line is `err` with the host's message.
import { ready } from 'weft:app/notify@0.1.0';
import { fetch } from 'weft:app/fetch@0.1.0';
import { notify } from 'weft:app/notifications@0.1.0';
import { read, write } from 'weft:app/clipboard@0.1.0';

// An import returning result<T, string> returns T on ok and throws on err;
// the err string is the thrown value's `payload`.
function message(e) {
  if (e && typeof e === 'object' && 'payload' in e) return String(e.payload);
  if (e instanceof Error) return e.message;
  return String(e);
}

function probe(name, call, describe) {
  let line;
  try {
    line = `${name}: ok ${describe(call())}`;
  } catch (e) {
    line = `${name}: err ${message(e)}`;
  }
  console.log(line.trimEnd());
}

export const run = {
  run() {
    probe('fetch', () => fetch('http://example.invalid/', 'GET', [], undefined),
      (r) => `${r.status} ${r.contentType} ${r.body.length}`);
    probe('notify', () => notify('t', 'b', undefined), () => '');
    probe('clipboard.read', () => read(), (text) => JSON.stringify(text));
    probe('clipboard.write', () => write('x'), () => '');
    ready();
  },
};

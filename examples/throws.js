// Errors: a thrown Error, a rejected promise, or a thrown non-Error value, chosen by params.mode.
async function main(params) {
  switch (params.mode) {
    case 'reject':
      return Promise.reject(new TypeError('rejected on purpose'));
    case 'value':
      throw 'a plain string';
    case 'recursion': {
      const down = (n) => down(n + 1) + 1;
      return { n: down(0) };
    }
    default:
      throw new Error('thrown on purpose');
  }
}

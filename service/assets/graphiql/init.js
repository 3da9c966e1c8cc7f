// Starts GraphiQL against this server's /graphql. Kept out of index.html so
// the Content-Security-Policy can forbid inline scripts.
(function () {
  'use strict';
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  // GraphiQL keeps tabs, history and favourites in the storage it is
  // given, headers included (history ignores shouldPersistHeaders): a token
  // is a secret, so it gets a memory that dies with the tab, and whatever
  // an older page wrote to localStorage is removed.
  var memory = {};
  var storage = {
    getItem: function (key) {
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
    },
    setItem: function (key, value) {
      memory[key] = String(value);
    },
    removeItem: function (key) {
      delete memory[key];
    },
    clear: function () {
      memory = {};
    },
    get length() {
      return Object.keys(memory).length;
    },
  };
  try {
    Object.keys(window.localStorage)
      .filter(function (key) { return key.indexOf('graphiql:') === 0; })
      .forEach(function (key) { window.localStorage.removeItem(key); });
  } catch (e) {
    // Storage disabled: nothing to remove.
  }
  var headers = JSON.stringify(
    { Authorization: 'Bearer <paste a token: tandem dev-token --role admin>' },
    null,
    2
  );
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
      defaultQuery: '# Put your token in the Headers tab below, then run:\n{\n  me {\n    displayName\n  }\n}\n',
    })
  );
})();

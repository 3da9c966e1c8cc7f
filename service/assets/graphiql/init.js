// Starts GraphiQL against this server's /graphql. Kept out of index.html so
// the Content-Security-Policy can forbid inline scripts.
(function () {
  'use strict';
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var headers = JSON.stringify(
    { Authorization: 'Bearer <paste a token: tandem dev-token --role admin>' },
    null,
    2
  );
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: 'headers',
      // A token is a secret: never written to localStorage.
      shouldPersistHeaders: false,
      defaultQuery: '# Put your token in the Headers tab below, then run:\n{\n  me {\n    displayName\n  }\n}\n',
    })
  );
})();

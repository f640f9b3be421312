// Test SP pages: auto-submit the HTTP-POST binding form (the button works without JavaScript too).
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) HTMLFormElement.prototype.submit.call(form);
})();
